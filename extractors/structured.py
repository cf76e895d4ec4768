"""Purchase orders from structured XML: UBL 2.1 ``Order`` and Order-X (Cross Industry Order).

``orders_from_xml`` reads an XML attachment; ``orders_from_hybrid_pdf`` reads
the order XML a PDF carries as an attached file (Order-X, Factur-X style) and
lets it win over the printed text.

Parsing is hardened, since the bytes come from strangers by email:

* at most ``MAX_XML_BYTES`` bytes and ``MAX_DEPTH`` levels of nesting;
* a DOCTYPE is never processed: no DTD is read, no entity is declared or
  expanded, nothing is fetched, so external entities (XXE) and entity
  expansion (billion laughs) are refused the moment the DOCTYPE starts;
* the tree is built by expat directly (``xml.parsers.expat``), with handlers
  that raise for every DTD feature, rather than trusting library defaults.

Outcomes, never an exception out of the extractors:

* a UBL ``Order`` or an Order-X order -> one ``Order``; every value read from
  the XML has confidence ``CONFIDENCE`` and a ``Provenance`` whose ``rule`` is an
  XPath-like pointer (``ubl:cbc:ID``, ``cio:rsm:ExchangedDocument/ram:ID``);
* a UBL ``OrderChange`` / ``OrderCancellation``, an Order-X order change
  (type code 230) or cancellation (purpose code 1) -> one ``Order`` naming the
  PO with a ``change_request`` / ``cancellation_request`` reason (a person
  handles it, as for such requests written in an email);
* XML that is no order (an invoice, a despatch advice, an order response, an
  SVG) -> ``()``;
* XML that cannot be read (not well-formed, too large, a refused DTD) and that
  is, or may be, an order -> one ``Order`` with an ``unreadable_document``
  reason ``"<file>: <what is wrong>"``. "May be": the root element (or the
  name a DOCTYPE declares) is an order's, or could not be seen at all. A
  broken file whose root shows it is something else gives ``()``;
* a well-formed order in a format this module does not read (a root named
  ``PurchaseOrder`` outside UBL and UN/CEFACT) -> ``unreadable_document`` too:
  a person keys it, it is never dropped.

Urgency: UN/EDIFACT document type 224 ("rush order") in ``cbc:OrderTypeCode`` /
``ram:TypeCode`` is a flag in the document (confidence 0.98). An urgency word
in the order's notes (``URGENT``, ``eilt``, not negated) also counts, at 0.9:
FORMATS.md says a message asking for urgent handling in words is urgent, and
the PDF reader flags the same words printed on a page, so a hybrid PDF must not
lose urgency because its XML wins. Line notes and item names are never read
for urgency (a product called "Rush Tape" is no rush order).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from bot.model import MISSING, Address, Document, Field, Order, OrderLine, Provenance, Reason, ReasonCode
from extractors.context import ExtractionContext
from extractors.lines import check_against_total, label_vocabulary, po_number_from_filename
from extractors.normalise import normalise_country, normalise_currency
from extractors.quotes import is_negated, phrase_pattern, text_vocabulary

# Values read from a schema-defined element: no layout guess, only the sender's own data errors.
CONFIDENCE = 0.98
# A currency taken from the amounts' currencyID attributes when the header names none.
CURRENCY_FROM_AMOUNTS = 0.95
URGENT_FROM_NOTE = 0.9
NOT_URGENT = 0.9

MAX_XML_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64

UBL_NS = "urn:oasis:names:specification:ubl:schema:xsd:"
UBL_ORDER_NS = UBL_NS + "Order-2"
UBL_ORDER_CHANGE_NS = UBL_NS + "OrderChange-2"
UBL_ORDER_CANCELLATION_NS = UBL_NS + "OrderCancellation-2"
UNCEFACT_NS = "urn:un:unece:uncefact:"
# Order-X 1.0: rsm="urn:un:unece:uncefact:data:SCRDMCCBDACIOMessageStructure:100".
CIO_ROOTS = frozenset({"SCRDMCCBDACIOMessageStructure", "CrossIndustryOrder"})

# Root names (lower-case, local part) of XML that holds, or claims to hold, an order.
_ORDER_LIKE_ROOTS = frozenset(
    {"order", "orderchange", "ordercancellation", "purchaseorder", "orders", "scrdmccbdaciomessagestructure", "crossindustryorder"}
)

# UN/EDIFACT 1001 document name codes.
RUSH_ORDER = "224"
ORDER_CHANGE = "230"
ORDER_RESPONSE = "231"
# UN/EDIFACT 1225 message function code.
PURPOSE_CANCELLATION = "1"

# UN/ECE Recommendation 20 (and Rec 21 "X" package) codes -> the codes of products.csv.
_UNIT_CODES = {
    "C62": "EA", "EA": "EA", "H87": "EA", "NAR": "EA",
    "BX": "BX", "XBX": "BX",
    "CS": "CS", "CT": "CS", "XCS": "CS", "XCT": "CS",
    "KGM": "KGM", "MTR": "MTR", "LTR": "LTR",
    "PK": "PK", "XPK": "PK",
}  # fmt: skip

_XS_DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:$|[TZ+-])")
_ISO_COUNTRY = re.compile(r"^[A-Z]{2}$")
_ISO_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Countries that write the house number before the street name.
_NUMBER_FIRST = frozenset({"US", "CA", "GB", "IE", "FR", "AU", "NZ", "LU"})


# --- safe parsing ----------------------------------------------------------------------


class _Refused(Exception):
    """Raised from an expat handler: the document uses a feature we never process."""


@dataclass(frozen=True, slots=True)
class _Parsed:
    root: Element | None
    # What the document says it is when it could not be read: the root element's
    # local name, the name its DOCTYPE declares, the first start tag after it.
    names: tuple[str, ...] = ()
    problem: str | None = None


@dataclass(slots=True)
class _State:
    depth: int = 0
    root: str | None = None
    doctype: str | None = None
    doctype_at: int = 0


def _clark(name: str) -> str:
    """expat's ``uri}local`` (namespace_separator ``}``) as ElementTree's ``{uri}local``."""
    return "{" + name if "}" in name else name


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _parse(data: bytes) -> _Parsed:
    """The element tree of ``data``, or the problem that stopped it and what the document seemed to be."""
    if len(data) > MAX_XML_BYTES:
        names = tuple(n for n in (_first_tag(data),) if n)
        return _Parsed(None, names, f"is larger than the {MAX_XML_BYTES // (1024 * 1024)} MiB limit for order XML ({len(data)} bytes)")
    builder = TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    state = _State()

    def start(tag: str, attrs: dict[str, str]) -> None:
        state.depth += 1
        if state.depth > MAX_DEPTH:
            raise _Refused(f"nests elements deeper than {MAX_DEPTH} levels")
        state.root = state.root or local_name(tag)
        builder.start(_clark(tag), {_clark(k): v for k, v in attrs.items()})

    def end(tag: str) -> None:
        state.depth -= 1
        builder.end(_clark(tag))

    def doctype(name: str, system_id: str | None, public_id: str | None, has_internal_subset: int) -> None:
        state.doctype = local_name(name or "") or None
        state.doctype_at = parser.CurrentByteIndex
        raise _Refused(
            "declares a DTD (<!DOCTYPE>); order XML never needs one, and it is refused unread "
            "to rule out external entities and entity expansion"
        )

    def refuse(what: str) -> Callable[..., None]:
        def handler(*_: object) -> None:
            raise _Refused(f"uses {what}, which is refused")

        return handler

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = doctype
    # Never reached while every DOCTYPE is refused; kept so that no later change can open them.
    parser.EntityDeclHandler = refuse("an entity declaration")
    parser.UnparsedEntityDeclHandler = refuse("an unparsed entity")
    parser.NotationDeclHandler = refuse("a notation declaration")
    parser.ExternalEntityRefHandler = refuse("an external entity")
    parser.SkippedEntityHandler = refuse("an undeclared entity")
    try:
        parser.Parse(data, True)
        return _Parsed(builder.close())
    except _Refused as exc:
        after = _first_tag(data[state.doctype_at + 2 :]) if state.doctype else None
        return _Parsed(None, tuple(n for n in (state.root, state.doctype, after) if n), str(exc))
    except expat.ExpatError as exc:
        problem = f"is not well-formed XML (line {exc.lineno}, column {exc.offset + 1}: {expat.ErrorString(exc.code)})"
        return _Parsed(None, tuple(n for n in (state.root or _first_tag(data),) if n), problem)


_START_TAG = re.compile(rb"<([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)")


def _first_tag(data: bytes) -> str | None:
    """The local name of the first start tag, found by scanning: only to classify a file we could not parse."""
    match = _START_TAG.search(data[:65536])
    return local_name(match.group(1).decode("ascii", "replace")) if match else None


# --- navigation ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _At:
    """An element and the XPath-like pointer to it (``cac:OrderLine[2]/cac:LineItem``)."""

    el: Element
    path: str

    def _join(self, step: str) -> str:
        return f"{self.path}/{step}" if self.path else step

    def all(self, path: str) -> list[_At]:
        """Every element at ``path`` (steps are prefixed names; only local names must match)."""
        found = [self]
        for step in path.split("/"):
            name = local_name(step)
            nxt: list[_At] = []
            for at in found:
                matches = [c for c in at.el if isinstance(c.tag, str) and local_name(c.tag) == name]
                if len(matches) == 1:
                    nxt.append(_At(matches[0], at._join(step)))
                else:
                    nxt.extend(_At(c, at._join(f"{step}[{i}]")) for i, c in enumerate(matches, 1))
            found = nxt
        return found

    def first(self, path: str) -> _At | None:
        found = self.all(path)
        return found[0] if found else None

    @property
    def text(self) -> str | None:
        value = " ".join("".join(self.el.itertext()).split())
        return value or None

    @property
    def lines(self) -> str | None:
        """The text with its line breaks kept (notes)."""
        value = "\n".join(" ".join(ln.split()) for ln in "".join(self.el.itertext()).strip().splitlines()).strip()
        return value or None

    def attr(self, name: str) -> str | None:
        for key, value in self.el.attrib.items():
            if local_name(key) == name:
                return value.strip() or None
        return None


class _Reader:
    """Turns elements into ``Field``s with provenance; collects what it could not read."""

    def __init__(self, scheme: str, source: str) -> None:
        self.scheme = scheme
        self.source = source
        self.reasons: list[Reason] = []

    def provenance(self, at: _At, suffix: str = "") -> Provenance:
        return Provenance(self.source, rule=f"{self.scheme}:{at.path}{suffix}")

    def field(self, value: object, at: _At, confidence: float = CONFIDENCE, suffix: str = "") -> Field:
        return Field(value, confidence, self.provenance(at, suffix))

    def problem(self, field: str, message: str, found: str | None = None) -> None:
        self.reasons.append(Reason(ReasonCode.LOW_CONFIDENCE, message, field=field, found=found))

    def text(self, at: _At | None) -> Field[str]:
        if at is None or at.text is None:
            return MISSING
        return self.field(at.text, at)

    def date(self, at: _At | None, field: str) -> Field[date]:
        if at is None or at.text is None:
            return MISSING
        value = _read_date(at.text, at.attr("format"))
        if value is None:
            self.problem(field, f"{field} {at.text!r} ({self.scheme}:{at.path}) is not a calendar day", at.text)
            return MISSING
        return self.field(value, at)

    def amount(self, at: _At | None, field: str) -> Field[Decimal]:
        if at is None or at.text is None:
            return MISSING
        value = _xs_decimal(at.text)
        if value is None:
            self.problem(field, f"{field} {at.text!r} ({self.scheme}:{at.path}) is not a decimal number", at.text)
            return MISSING
        return self.field(value, at)


def _xs_decimal(text: str) -> Decimal | None:
    text = text.strip()
    if not _XS_DECIMAL.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None


def _tidy(value: Decimal) -> Decimal:
    """``24.000`` -> ``24``, ``2.50`` -> ``2.5``: quantities without trailing zeros."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _per_unit(price: Decimal, base: Decimal) -> Decimal:
    """A price for ``base`` units divided down to one unit (at most 6 decimals)."""
    value = price / base
    if value.as_tuple().exponent < -6:  # type: ignore[operator]
        value = value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP).normalize()
    return value


def _read_date(text: str, fmt: str | None) -> date | None:
    """An ISO date (``2026-11-20``, with time or zone) or a UN/CEFACT ``DateTimeString``
    in format 102 (``20261120``), 203 (``202611201530``) or 204 (with seconds)."""
    text = text.strip()
    if fmt in (None, "102", "203", "204") and re.fullmatch(r"\d{8}(?:\d{4}(?:\d{2})?)?", text):
        if fmt is None or len(text) == {"102": 8, "203": 12, "204": 14}[fmt]:
            return _make_date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        return None
    if fmt in (None, "102") and (m := _ISO_DATE.match(text)):
        return _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return None


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def unit_of(code: str | None) -> str | None:
    """A UN/ECE Rec 20 unit code as products.csv writes it (``C62`` -> ``EA``); others as they are."""
    if not code:
        return None
    code = code.strip().upper()
    return _UNIT_CODES.get(code, code)


def _country(text: str | None) -> str | None:
    if not text:
        return None
    upper = text.strip().upper()
    return upper if _ISO_COUNTRY.match(upper) else normalise_country(text)


def _currency(text: str | None) -> str | None:
    if not text:
        return None
    upper = text.strip().upper()
    return upper if _ISO_CURRENCY.match(upper) else normalise_currency(text)


@cache
def _urgent_words():  # noqa: ANN202 - a compiled pattern
    return phrase_pattern([*label_vocabulary().phrases("urgent"), *(str(w) for w in text_vocabulary()["urgent"])])


def _urgency(reader: _Reader, type_code: _At | None, notes: list[_At]) -> Field[bool]:
    if type_code is not None and type_code.text == RUSH_ORDER:
        return reader.field(True, type_code, suffix=f"={RUSH_ORDER}")
    for note in notes:
        text = note.text or ""
        for match in _urgent_words().finditer(text):
            if not is_negated(text, match.start()):
                return reader.field(True, note, URGENT_FROM_NOTE, suffix=f" urgent:{match.group(0).lower()}")
    return Field(False, NOT_URGENT, Provenance(reader.source, rule=f"{reader.scheme}:no-rush-code-or-urgent-note"))


def _notes(reader: _Reader, notes: list[_At]) -> Field[str]:
    """All notes, one per line; the pointer names them all (``cbc:Note``, no index)."""
    texts = [n.lines for n in notes if n.lines]
    if not texts:
        return MISSING
    return reader.field("\n".join(texts), _At(notes[0].el, re.sub(r"\[\d+\]", "", notes[0].path)))


def _join(*parts: str | None, sep: str = ", ") -> str | None:
    kept = [p for p in parts if p]
    return sep.join(kept) or None


def _street(name: str | None, number: str | None, country: str | None) -> str | None:
    if not number or (name and re.search(rf"(?<!\w){re.escape(number)}(?!\w)", name)):
        return name
    if not name:
        return number
    return f"{number} {name}" if country in _NUMBER_FIRST else f"{name} {number}"


def _address_field(reader: _Reader, at: _At, address: Address) -> Field[Address]:
    return Field(address, CONFIDENCE, reader.provenance(at)) if not address.is_empty() else MISSING


def _agreed(fields: list[Field]) -> Field:
    """The value every one of ``fields`` states alike (lines standing in for a header
    value the document leaves out), with the first one's provenance; else missing."""
    if fields and all(f.present and f.value == fields[0].value for f in fields):
        return fields[0]
    return MISSING


def _from_lines(reader: _Reader, fields: list[Field], name: str) -> Field:
    """A header value the document leaves out, from its lines when they all state the
    same; lines that state different values (a split delivery) are a reason to look."""
    agreed = _agreed(fields)
    stated = {repr(f.value) for f in fields if f.present}
    if not agreed.present and stated:
        reader.problem(name, f"the order states no {name.replace('_', ' ')} and its lines state {len(stated)} different ones or leave some out")
    return agreed


@dataclass(frozen=True, slots=True)
class _Quantity:
    value: Field[Decimal]
    text: str | None  # as written, when it is no number
    uom: Field[str]


def _quantity(reader: _Reader, at: _At | None) -> _Quantity:
    if at is None or at.text is None:
        return _Quantity(MISSING, None, MISSING)
    unit = unit_of(at.attr("unitCode"))
    uom = reader.field(unit, at, suffix="/@unitCode") if unit else MISSING
    value = _xs_decimal(at.text)
    if value is None:
        return _Quantity(MISSING, at.text, uom)
    return _Quantity(reader.field(_tidy(value), at), None, uom)


# --- UBL 2.1 ------------------------------------------------------------------------


def _ubl_address(at: _At | None) -> Address:
    if at is None:
        return Address()
    country = _country(t.text if (t := at.first("cac:Country/cbc:IdentificationCode")) else None)
    if country is None and (t := at.first("cac:Country/cbc:Name")):
        country = _country(t.text)
    street_name = (s.text if (s := at.first("cbc:StreetName")) else None)
    number = (b.text if (b := at.first("cbc:BuildingNumber")) else None)
    main = _street(street_name, number, country)
    extra = a.text if (a := at.first("cbc:AdditionalStreetName")) else None
    address_lines = [ln.text for ln in at.all("cac:AddressLine/cbc:Line") if ln.text]
    street = _join(main, extra) if main else _join(*address_lines, extra)
    return Address(
        street=street,
        postal_code=(p.text if (p := at.first("cbc:PostalZone")) else None),
        city=(c.text if (c := at.first("cbc:CityName")) else None),
        country=country,
    )


def _ubl_party_name(party: _At | None) -> _At | None:
    if party is None:
        return None
    for path in ("cac:PartyName/cbc:Name", "cac:PartyLegalEntity/cbc:RegistrationName"):
        if (at := party.first(path)) is not None and at.text:
            return at
    return None


def _ubl_ship_to(reader: _Reader, delivery: _At) -> Field[Address]:
    location = delivery.first("cac:DeliveryLocation")
    address_at = (location.first("cac:Address") if location else None) or delivery.first("cac:DeliveryAddress")
    name_at = (location.first("cbc:Name") if location else None) or _ubl_party_name(delivery.first("cac:DeliveryParty/cac:Party") or delivery.first("cac:DeliveryParty"))
    address = _ubl_address(address_at)
    if address_at is None:
        return MISSING
    if name_at is not None:
        address = replace(address, name=name_at.text)
    return _address_field(reader, address_at, address)


def _ubl_delivery_date(reader: _Reader, delivery: _At | None, field: str) -> Field[date]:
    if delivery is None:
        return MISSING
    for path in (
        "cac:RequestedDeliveryPeriod/cbc:EndDate",
        "cac:RequestedDeliveryPeriod/cbc:StartDate",
        "cbc:LatestDeliveryDate",
    ):
        if (at := delivery.first(path)) is not None and at.text:
            return reader.date(at, field)
    return MISSING


def _ubl_line(reader: _Reader, line_at: _At, index: int) -> OrderLine:
    item = line_at.first("cac:LineItem") or line_at
    quantity = _quantity(reader, item.first("cbc:Quantity"))
    product = item.first("cac:Item")
    name = product.first("cbc:Name") if product else None
    if (name is None or not name.text) and product is not None:
        name = product.first("cbc:Description")
    return _line(
        reader,
        buyer=product.first("cac:BuyersItemIdentification/cbc:ID") if product else None,
        seller=product.first("cac:SellersItemIdentification/cbc:ID") if product else None,
        standard=product.first("cac:StandardItemIdentification/cbc:ID") if product else None,
        name=name,
        quantity=quantity,
        unit_price=_unit_price(reader, item.first("cac:Price/cbc:PriceAmount"), item.first("cac:Price/cbc:BaseQuantity"), quantity.uom.value, index),
        line_total=reader.amount(item.first("cbc:LineExtensionAmount"), f"lines[{index}].line_total"),
    )


def _unit_price(reader: _Reader, price_at: _At | None, base_at: _At | None, uom: str | None, index: int) -> Field[Decimal]:
    """The price per one line unit: the price amount over its base quantity when one is given."""
    name = f"lines[{index}].unit_price"
    price = reader.amount(price_at, name)
    if not price.present or base_at is None or base_at.text is None:
        return price
    base = _xs_decimal(base_at.text)
    if base is None or base <= 0:
        reader.problem(name, f"line {index}: price base quantity {base_at.text!r} is not a positive number", base_at.text)
        return MISSING
    base_unit = unit_of(base_at.attr("unitCode"))
    if base_unit and uom and base_unit != uom:
        reader.problem(name, f"line {index}: the price is per {base_at.text} {base_unit} but the quantity is in {uom}", f"{price.value} per {base_at.text} {base_unit}")
        return MISSING
    if base == 1:
        return price
    assert price_at is not None
    return reader.field(_per_unit(price.value, base), price_at, suffix=f" / {base_at.path.rsplit('/', 1)[-1]}")


def _line(
    reader: _Reader,
    *,
    buyer: _At | None,
    seller: _At | None,
    standard: _At | None,
    name: _At | None,
    quantity: _Quantity,
    unit_price: Field[Decimal],
    line_total: Field[Decimal],
) -> OrderLine:
    """A line: the buyer's item id is the customer's sku; every id (seller's, buyer's,
    standard) goes into ``codes`` for the resolve stage, the seller's first."""
    codes: list[str] = []
    for at in (seller, buyer, standard):
        if at is not None and at.text and at.text not in codes:
            codes.append(at.text)
    description = reader.text(name)
    written = str(quantity.value.value) if quantity.value.present else quantity.text
    summary = " ".join(p for p in (*codes, description.value, written, quantity.uom.value) if p)
    return OrderLine(
        customer_sku=reader.text(buyer),
        description=description,
        quantity=quantity.value,
        uom=quantity.uom,
        unit_price=unit_price,
        quantity_text=quantity.text,
        line_total=line_total,
        codes=tuple(codes),
        text=summary or None,
    )


def _request(reader: _Reader, code: ReasonCode, po_at: _At | None, customer: _At | None) -> Order:
    verb = "change" if code is ReasonCode.CHANGE_REQUEST else "cancel"
    po = reader.text(po_at)
    return Order(
        source=reader.source,
        po_number=po,
        customer_name=reader.text(customer),
        reasons=(Reason(code, f"the attached order XML asks to {verb} order {po.value or '(no number given)'}"),),
    )


def _ubl_order(root: _At, source: str) -> Order:
    reader = _Reader("ubl", source)
    ns = namespace(root.el.tag)
    buyer_name = _ubl_party_name(root.first("cac:BuyerCustomerParty/cac:Party"))
    if ns == UBL_ORDER_CHANGE_NS:
        return _request(reader, ReasonCode.CHANGE_REQUEST, root.first("cac:OrderReference/cbc:ID") or root.first("cbc:ID"), buyer_name)
    if ns == UBL_ORDER_CANCELLATION_NS:
        return _request(reader, ReasonCode.CANCELLATION_REQUEST, root.first("cac:OrderReference/cbc:ID"), buyer_name)

    line_ats = root.all("cac:OrderLine")
    lines = tuple(_ubl_line(reader, at, i) for i, at in enumerate(line_ats, 1))

    deliveries = root.all("cac:Delivery")
    ship_to: Field[Address] = MISSING
    delivery_date: Field[date] = MISSING
    for delivery in deliveries:
        ship_to = ship_to if ship_to.present else _ubl_ship_to(reader, delivery)
        delivery_date = delivery_date if delivery_date.present else _ubl_delivery_date(reader, delivery, "delivery_date")
    # No header value: the lines' own, when every line states the same.
    line_deliveries = [at.first("cac:LineItem/cac:Delivery") for at in line_ats]
    if not delivery_date.present:
        delivery_date = _from_lines(reader, [_ubl_delivery_date(reader, d, "delivery_date") for d in line_deliveries], "delivery_date")
    if not ship_to.present:
        ship_to = _from_lines(reader, [_ubl_ship_to(reader, d) if d else MISSING for d in line_deliveries], "ship_to")

    currency = _ubl_currency(reader, root, line_ats)
    notes = root.all("cbc:Note")
    lines, total = _checked(lines, reader.amount(root.first("cac:AnticipatedMonetaryTotal/cbc:LineExtensionAmount"), "document_total"))
    return Order(
        source=source,
        customer_name=reader.text(buyer_name),
        po_number=reader.text(root.first("cbc:ID")),
        order_date=reader.date(root.first("cbc:IssueDate"), "order_date"),
        delivery_date=delivery_date,
        currency=currency,
        ship_to=ship_to,
        lines=lines,
        urgent=_urgency(reader, root.first("cbc:OrderTypeCode"), notes),
        notes=_notes(reader, notes),
        document_total=total,
        reasons=tuple(reader.reasons),
    )


def _ubl_currency(reader: _Reader, root: _At, line_ats: list[_At]) -> Field[str]:
    at = root.first("cbc:DocumentCurrencyCode")
    if at is not None and at.text:
        if code := _currency(at.text):
            return reader.field(code, at)
        reader.problem("currency", f"currency {at.text!r} is not an ISO 4217 code", at.text)
        return MISSING
    # No header currency: the one the prices' currencyID attributes all state.
    prices = [a for line in line_ats if (a := line.first("cac:LineItem/cac:Price/cbc:PriceAmount")) and a.attr("currencyID")]
    return _agreed([reader.field(c, a, CURRENCY_FROM_AMOUNTS, suffix="/@currencyID") if (c := _currency(a.attr("currencyID"))) else MISSING for a in prices])


def _checked(lines: tuple[OrderLine, ...], total: Field[Decimal]) -> tuple[tuple[OrderLine, ...], Field[Decimal]]:
    """The lines against the document's stated line total (as for PDFs: a sum that
    disagrees lowers the lines' confidence) and the total when it agrees."""
    if not total.present:
        return lines, MISSING
    checked, matched = check_against_total(lines, [total.value])
    return checked, (total if matched is not None else MISSING)


# --- Order-X / Cross Industry Order --------------------------------------------------


def _cio_address(reader: _Reader, party: _At | None) -> Field[Address]:
    if party is None:
        return MISSING
    at = party.first("ram:PostalTradeAddress")
    if at is None:
        return MISSING
    text = lambda path: t.text if (t := at.first(path)) else None  # noqa: E731
    address = Address(
        name=(n.text if (n := party.first("ram:Name")) else None),
        street=_join(text("ram:LineOne"), text("ram:LineTwo"), text("ram:LineThree")),
        postal_code=text("ram:PostcodeCode"),
        city=text("ram:CityName"),
        country=_country(text("ram:CountryID")),
    )
    return _address_field(reader, party, address)


def _cio_event_date(reader: _Reader, event: _At | None, field: str) -> Field[date]:
    if event is None:
        return MISSING
    for path in (
        "ram:OccurrenceDateTime/udt:DateTimeString",
        "ram:OccurrenceSpecifiedPeriod/ram:EndDateTime/udt:DateTimeString",
        "ram:OccurrenceSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString",
    ):
        if (at := event.first(path)) is not None and at.text:
            return reader.date(at, field)
    return MISSING


def _cio_line(reader: _Reader, at: _At, index: int) -> OrderLine:
    quantity = _quantity(reader, at.first("ram:SpecifiedLineTradeDelivery/ram:RequestedQuantity"))
    agreement = at.first("ram:SpecifiedLineTradeAgreement")
    price_at = agreement.first("ram:NetPriceProductTradePrice") if agreement else None
    if price_at is None and agreement is not None:
        gross = agreement.first("ram:GrossPriceProductTradePrice")
        # A gross price is the net price only when no allowance is applied to it.
        if gross is not None and gross.first("ram:AppliedTradeAllowanceCharge") is None:
            price_at = gross
    product = at.first("ram:SpecifiedTradeProduct")
    name = product.first("ram:Name") if product else None
    if (name is None or not name.text) and product is not None:
        name = product.first("ram:Description")
    total_path = "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount"
    return _line(
        reader,
        buyer=product.first("ram:BuyerAssignedID") if product else None,
        seller=product.first("ram:SellerAssignedID") if product else None,
        standard=product.first("ram:GlobalID") if product else None,
        name=name,
        quantity=quantity,
        unit_price=_unit_price(
            reader,
            price_at.first("ram:ChargeAmount") if price_at else None,
            price_at.first("ram:BasisQuantity") if price_at else None,
            quantity.uom.value,
            index,
        ),
        line_total=reader.amount(at.first(total_path), f"lines[{index}].line_total"),
    )


def _cio_order(root: _At, source: str) -> Order | None:
    reader = _Reader("cio", source)
    document = root.first("rsm:ExchangedDocument")
    header = root.first("rsm:SupplyChainTradeTransaction")
    po_at = document.first("ram:ID") if document else None
    type_code = document.first("ram:TypeCode") if document else None
    purpose = document.first("ram:PurposeCode") if document else None
    agreement = header.first("ram:ApplicableHeaderTradeAgreement") if header else None
    buyer = agreement.first("ram:BuyerTradeParty") if agreement else None
    buyer_name = buyer.first("ram:Name") if buyer else None
    code = type_code.text if type_code else None
    if code == ORDER_RESPONSE:
        return None
    if purpose is not None and purpose.text == PURPOSE_CANCELLATION:
        return _request(reader, ReasonCode.CANCELLATION_REQUEST, po_at, buyer_name)
    if code == ORDER_CHANGE:
        return _request(reader, ReasonCode.CHANGE_REQUEST, po_at, buyer_name)

    line_ats = header.all("ram:IncludedSupplyChainTradeLineItem") if header else []
    lines = tuple(_cio_line(reader, at, i) for i, at in enumerate(line_ats, 1))
    delivery = header.first("ram:ApplicableHeaderTradeDelivery") if header else None
    ship_to = _cio_address(reader, (delivery.first("ram:ShipToTradeParty") or delivery.first("ram:UltimateShipToTradeParty")) if delivery else None)
    delivery_date = _cio_event_date(reader, delivery.first("ram:RequestedDeliverySupplyChainEvent") if delivery else None, "delivery_date")
    if not delivery_date.present:  # the lines' own date, when every line asks for the same day
        event = "ram:SpecifiedLineTradeDelivery/ram:RequestedDeliverySupplyChainEvent"
        delivery_date = _from_lines(reader, [_cio_event_date(reader, at.first(event), "delivery_date") for at in line_ats], "delivery_date")
    settlement = header.first("ram:ApplicableHeaderTradeSettlement") if header else None
    currency: Field[str] = MISSING
    if settlement is not None and (at := settlement.first("ram:OrderCurrencyCode")) is not None and at.text:
        if value := _currency(at.text):
            currency = reader.field(value, at)
        else:
            reader.problem("currency", f"currency {at.text!r} is not an ISO 4217 code", at.text)
    notes = [c for note in (document.all("ram:IncludedNote") if document else []) for c in note.all("ram:Content")]
    total_at = settlement.first("ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:LineTotalAmount") if settlement else None
    lines, total = _checked(lines, reader.amount(total_at, "document_total"))
    return Order(
        source=source,
        customer_name=reader.text(buyer_name),
        po_number=reader.text(po_at),
        order_date=reader.date(document.first("ram:IssueDateTime/udt:DateTimeString") if document else None, "order_date"),
        delivery_date=delivery_date,
        currency=currency,
        ship_to=ship_to,
        lines=lines,
        urgent=_urgency(reader, type_code, notes),
        notes=_notes(reader, notes),
        document_total=total,
        reasons=tuple(reader.reasons),
    )


# --- entry points --------------------------------------------------------------------


def _is_ubl(root: Element) -> bool:
    ns = namespace(root.tag)
    if ns in (UBL_ORDER_NS, UBL_ORDER_CHANGE_NS, UBL_ORDER_CANCELLATION_NS):
        return local_name(root.tag) in ("Order", "OrderChange", "OrderCancellation")
    # Lenient: an <Order> root that forgot its namespace while its children use UBL's.
    return ns == "" and local_name(root.tag) == "Order" and any(namespace(c.tag).startswith(UBL_NS + "Common") for c in root if isinstance(c.tag, str))


def _is_cio(root: Element) -> bool:
    return local_name(root.tag) in CIO_ROOTS and (namespace(root.tag).startswith(UNCEFACT_NS) or namespace(root.tag) == "")


def _order_like(name: str | None) -> bool:
    return name is not None and name.lower() in _ORDER_LIKE_ROOTS


def unreadable_xml_order(source: str, file_name: str, problem: str, *, po_from: str | None = None) -> Order:
    """The order entry for an order XML nobody can read automatically: a person must.

    Keeps the PO number the file name (``po_from``: the file a PDF attachment
    came in) holds, at low confidence, like the other extractors."""
    po = po_number_from_filename(po_from or file_name)
    return Order(
        source=source,
        po_number=Field(po, 0.4, Provenance(source, rule="file_name")) if po else MISSING,
        reasons=(Reason(ReasonCode.UNREADABLE_DOCUMENT, f"{file_name}: {problem}"),),
    )


def read_order_xml(data: bytes, *, name: str, source: str, po_from: str | None = None) -> tuple[Order, ...]:
    """The orders in one XML file (see the module docstring for every outcome)."""
    parsed = _parse(data)
    if parsed.root is None:
        # Unreadable: an order, or something we cannot tell from one, goes to a person.
        if not parsed.names or any(_order_like(n) for n in parsed.names):
            return (unreadable_xml_order(source, name, parsed.problem or "holds no XML element", po_from=po_from),)
        return ()
    root = parsed.root
    if _is_ubl(root):
        return (_ubl_order(_At(root, ""), source),)
    if _is_cio(root):
        order = _cio_order(_At(root, ""), source)
        return (order,) if order is not None else ()
    if _order_like(local_name(root.tag)) and not namespace(root.tag).startswith((UBL_NS, UNCEFACT_NS)):
        problem = f"is an order in an XML format orderbot does not read (root <{local_name(root.tag)}> in namespace {namespace(root.tag) or 'none'!r})"
        return (unreadable_xml_order(source, name, problem, po_from=po_from),)
    return ()


def orders_from_xml(doc: Document, *, context: ExtractionContext) -> tuple[Order, ...]:
    """The orders in an XML attachment: UBL 2.1 Order or Order-X; () for other XML."""
    del context  # structured data states its own dates and decimals
    return read_order_xml(doc.data, name=doc.name, source=doc.source)


def _is_xml(name: str, data: bytes, mime: str | None) -> bool:
    from extractors.sniff import XML, sniff

    return name.lower().endswith(".xml") or "xml" in (mime or "").lower() or sniff(data, name) == XML


def orders_from_hybrid_pdf(
    doc: Document, *, context: ExtractionContext, printed: Callable[..., tuple[Order, ...]]
) -> tuple[Order, ...]:
    """A PDF's orders: from the order XML it carries as an attached file when there
    is one (the XML wins over the printed text), else ``printed(doc, context=...)``.

    Sources name both files: ``attachment:PO-4711.pdf#order-x.xml``. An attached
    order XML that cannot be read sends the order to review: the printed
    orders carry its ``unreadable_document`` reason (or, with none printed, an
    unreadable order stands for it). Attached XML that is no order (a Factur-X
    invoice) is ignored.
    """
    from extractors.embedded import embedded_files

    found: list[Order] = []
    broken: list[Order] = []
    for attached in embedded_files(doc.data):
        if not _is_xml(attached.name, attached.data, attached.mime):
            continue
        inner = Document(f"{doc.name}#{attached.name}", "application/xml", attached.data)
        if attached.problem is not None:
            orders: tuple[Order, ...] = (unreadable_xml_order(inner.source, inner.name, attached.problem, po_from=doc.name),)
        else:
            orders = read_order_xml(attached.data, name=inner.name, source=inner.source, po_from=doc.name)
        for order in orders:
            unreadable = any(r.code is ReasonCode.UNREADABLE_DOCUMENT for r in order.reasons)
            (broken if unreadable else found).append(order)
    if found:
        return (*found, *broken)
    printed_orders = printed(doc, context=context)
    if not broken:
        return printed_orders
    if not printed_orders:
        return tuple(broken)
    return tuple(_with_reasons(order, [r for b in broken for r in b.reasons]) for order in printed_orders)


def _with_reasons(order: Order, reasons: list[Reason]) -> Order:
    return replace(order, reasons=(*order.reasons, *(r for r in reasons if r not in order.reasons)))
