"""What the PDF and spreadsheet extractors share.

* the label vocabulary (``vocabulary/labels.yaml``), folded for look-ups;
* column roles: which line-item column a header names (``header_role``);
* one table row (cells by role) -> ``OrderLine`` (``build_line``), including
  quantity and unit in one cell ("24 pcs"), unit price derived from a line
  total where a layout prints only totals, and the arithmetic cross-checks
  (quantity x unit price = line total; sum of lines = document total) that
  lower the confidence of values that do not add up;
* an address block (lines of text) -> ``Address`` (``parse_address``);
* the PO number a file name holds (``po_number_from_filename``).

Nothing here knows a customer or a layout: words come from the vocabulary,
everything else is arithmetic and the shape of the text.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

import yaml

from bot.model import MISSING, Address, Document, Field, Order, OrderLine, Provenance, Reason, ReasonCode
from extractors.normalise import (
    VOCABULARY_DIR,
    normalise_country,
    normalise_currency,
    normalise_uom,
    parse_date,
    parse_decimal,
)

# --- the label vocabulary ----------------------------------------------------


class Role(enum.StrEnum):
    """What a line-item column holds (the ``columns`` section of labels.yaml)."""

    POSITION = "position"
    SKU = "sku"
    CUSTOMER_SKU = "customer_sku"
    SUPPLIER_SKU = "supplier_sku"
    DESCRIPTION = "description"
    QUANTITY = "quantity"
    UOM = "uom"
    UNIT_PRICE = "unit_price"
    LINE_TOTAL = "line_total"
    DELIVERY_DATE = "delivery_date"


NUMERIC_ROLES = frozenset({Role.POSITION, Role.QUANTITY, Role.UNIT_PRICE, Role.LINE_TOTAL})
CODE_ROLES = (Role.SUPPLIER_SKU, Role.CUSTOMER_SKU, Role.SKU)  # most specific first

_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def fold_label(text: str) -> str:
    """The look-up key of a label: lower case, spaces folded, trailing ``:``/``.``/``*`` dropped."""
    folded = " ".join(text.replace("\u00a0", " ").split()).lower()
    return folded.strip(" :：*").rstrip(".").strip()


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


@dataclass(frozen=True, slots=True)
class LabelVocabulary:
    """labels.yaml, folded. ``sections`` maps a field (po_number, ship_to, ...,
    or a word list such as urgent, legal_forms) to its phrases; ``columns`` maps
    each folded column header to its role."""

    sections: Mapping[str, tuple[str, ...]]
    columns: Mapping[str, Role]

    def phrases(self, section: str) -> tuple[str, ...]:
        return self.sections.get(section, ())

    @property
    def longest_column_phrase(self) -> int:
        return max((len(p.split()) for p in self.columns), default=1)


@cache
def label_vocabulary() -> LabelVocabulary:
    raw = yaml.safe_load((VOCABULARY_DIR / "labels.yaml").read_text(encoding="utf-8"))
    sections: dict[str, tuple[str, ...]] = {}
    for key, words in raw.items():
        if key == "columns" or not isinstance(words, list):
            continue
        folded = {fold_label(str(w)): None for w in words if str(w).strip()}
        sections[key] = tuple(w for w in folded if w)
    columns: dict[str, Role] = {}
    for role_name, words in (raw.get("columns") or {}).items():
        try:
            role = Role(role_name)
        except ValueError:
            continue  # a role this extractor does not use yet
        for word in words or ():
            columns.setdefault(fold_label(str(word)), role)
    return LabelVocabulary(sections, columns)


_PARENS = re.compile(r"\s*[(\[].*?[)\]]\s*")


def header_role(text: str | None) -> Role | None:
    """The role a header cell names: an exact phrase, else the longest
    vocabulary phrase inside the cell ("单价 Unit Price", "Price (USD)")."""
    if not text:
        return None
    vocab = label_vocabulary()
    key = fold_label(text)
    if key in vocab.columns:
        return vocab.columns[key]
    bare = fold_label(_PARENS.sub(" ", text))
    if bare in vocab.columns:
        return vocab.columns[bare]
    best: tuple[int, Role] | None = None
    for phrase, role in vocab.columns.items():
        if len(phrase) < 2:
            continue
        if has_cjk(phrase):
            found = phrase in bare
        else:
            found = re.search(rf"(?<!\w){re.escape(phrase)}(?![\w])", bare) is not None
        if found and (best is None or len(phrase) > best[0]):
            best = (len(phrase), role)
    if best is None or best[0] * 3 < len(bare.replace(" ", "")):
        return None  # a long text that merely contains a short header word
    return best[1]


def is_table_header(roles: Sequence[Role | None]) -> bool:
    """Do these header cells name a line-item table? Three roles, one of them a
    quantity, or an amount with a description or code."""
    known = {r for r in roles if r is not None}
    if len(known) < 3:
        return False
    if Role.QUANTITY in known:
        return True
    return bool(known & {Role.UNIT_PRICE, Role.LINE_TOTAL}) and bool(known & {Role.DESCRIPTION, Role.SKU})


def header_currency(text: str | None) -> str | None:
    """A currency named in a header cell: ``Price (USD)``, ``Betrag EUR``, ``金额(元)``."""
    if not text:
        return None
    for token in re.findall(r"[^\s()\[\]/]+", text):
        if len(token) <= 4 and (code := normalise_currency(token)) and (token.isupper() or not token.isalpha()):
            return code
    return None


# --- numbers -----------------------------------------------------------------

_AMOUNT_DECIMAL_COMMA = re.compile(r"(?<![\d.,])\d{1,3}(?:[.\s\u00a0\u202f]\d{3})*,\d{2}(?![\d,.])")
_AMOUNT_DECIMAL_DOT = re.compile(r"(?<![\d.,])\d{1,3}(?:[,\s\u00a0\u202f]\d{3})*\.\d{2}(?![\d,.])")


def detect_decimal_comma(texts: Iterable[str]) -> bool | None:
    """How a document writes money, from its amounts (``16,50`` vs ``16.50``).

    None when the texts do not tell (no two-decimal amounts, or a tie).
    """
    commas = dots = 0
    for text in texts:
        commas += len(_AMOUNT_DECIMAL_COMMA.findall(text))
        dots += len(_AMOUNT_DECIMAL_DOT.findall(text))
    if commas == dots:
        return None
    return commas > dots


_QTY_UNIT = re.compile(r"^\s*([-+]?\d[\d.,'\s\u00a0\u202f]*)\s*([^\d\s].*?)?\s*$")
_UNIT_QTY = re.compile(r"^\s*([^\d\s][^\d]*?)\s*([-+]?\d[\d.,'\s\u00a0\u202f]*)\s*$")


def split_quantity(text: str | None, *, decimal_comma: bool | None) -> tuple[Decimal | None, str | None, str | None]:
    """``"24 pcs"`` -> (24, "EA", "pcs"); ``"4 Krt"`` -> (4, "CS", "Krt"); ``"12"`` -> (12, None, None).

    Returns (quantity, unit code, unit as written). The unit as written is
    returned even when the vocabulary does not know it.
    """
    if not text or not text.strip():
        return None, None, None
    match = _QTY_UNIT.match(text)
    number, unit = (match.group(1), match.group(2)) if match else (None, None)
    if match is None and (match := _UNIT_QTY.match(text)):
        unit, number = match.group(1), match.group(2)
    if number is None:
        return None, None, None
    quantity = parse_decimal(number, decimal_comma=decimal_comma)
    unit = unit.strip(" .") if unit else None
    return quantity, (normalise_uom(unit) if unit else None), unit or None


def parse_amount(text: str | None, *, decimal_comma: bool | None) -> tuple[Decimal | None, str | None]:
    """A money amount and the currency printed with it: ``"£1,254.00"``, ``"9 600,00 €"``."""
    if not text or not re.search(r"\d", text):
        return None, None
    currency = None
    for token in re.findall(r"[^\d\s.,'\-+]+", text):
        if code := normalise_currency(token):
            currency = code
            break
    return parse_decimal(text, decimal_comma=decimal_comma), currency


def is_number_like(text: str) -> bool:
    """True for ``12``, ``1.234,56``, ``£3.40``, ``9 600,00 €``, ``-5``: an amount or a count."""
    stripped = re.sub(r"[€£$¥￥%]", "", text).strip()
    for token in stripped.split():
        if normalise_currency(token) and token.isalpha():
            stripped = stripped.replace(token, "")
    return bool(re.fullmatch(r"[-+]?\(?\d[\d.,'\s\u00a0\u202f]*\)?", stripped.strip()))


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def unit_price_from_total(total: Decimal, quantity: Decimal) -> tuple[Decimal, bool]:
    """Line total / quantity, with as few decimals (at least 2) as make
    ``quantity x price`` give the printed total again. The flag says whether
    that was possible (else the price is rounded to 4 decimals)."""
    cents = Decimal(1).scaleb(-max(2, _places(total)))
    exact = total / quantity
    for places in range(2, 7):
        price = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if (price * quantity).quantize(cents, rounding=ROUND_HALF_UP) == total.quantize(cents):
            return price, True
    return exact.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), False


def amounts_agree(quantity: Decimal, unit_price: Decimal, total: Decimal) -> bool:
    """quantity x unit price = line total, to the cent (or 0.5 % for per-100 style rounding)."""
    product = quantity * unit_price
    tolerance = max(Decimal("0.01"), abs(total) * Decimal("0.005"))
    return abs(product - total) <= tolerance


# --- codes ---------------------------------------------------------------------

_CODE = re.compile(r"^(?=.*\d)[A-Za-z0-9][A-Za-z0-9.\-_/]{2,}[A-Za-z0-9]$")
_DIMENSION = re.compile(r"^\d+([.,]\d+)?(x\d+([.,]\d+)?)*(mm|cm|m|kg|g|l|ml|w|v|a)?$", re.I)


_DATE_LIKE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")


def looks_like_code(token: str) -> bool:
    """A part-number-like token: letters/digits/separators with at least one digit (no date, no size)."""
    token = token.strip(" ,;:()[]")
    return bool(_CODE.match(token)) and not _DIMENSION.match(token) and not _DATE_LIKE.match(token)


# --- values shared by the extractors -------------------------------------------

_PO_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-/._]*[A-Za-z0-9]$|^\d+$")


def read_po_number(text: str) -> str | None:
    tokens = [t.strip(",;()[]") for t in text.split()]
    for token in tokens[:2]:
        if fold_label(token) in ("no", "nr", "n°", "nº", "#", "number"):
            continue
        token = token.lstrip("#№")
        if not re.search(r"\d", token) or not 3 <= len(token) <= 30 or not _PO_TOKEN.match(token):
            return None
        if re.fullmatch(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}", token) or token.startswith("+"):
            return None  # a date or a phone number
        return token
    return None


_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[./-](\d{1,2})[./-](\d{2,4})\b")


def day_first_evidence(texts: Iterable[str]) -> bool | None:
    """Does the document itself show how it writes dates (a 13th or later day first or second)?"""
    day_first = month_first = 0
    for text in texts:
        for m in _NUMERIC_DATE.finditer(text):
            a, b = int(m.group(1)), int(m.group(2))
            if a > 12 >= b:
                day_first += 1
            elif b > 12 >= a:
                month_first += 1
    if day_first and not month_first:
        return True
    if month_first and not day_first:
        return False
    return None


_DASHED_DATE = re.compile(r"\b(\d{1,2})[-./ ]([^\W\d_]{3,}\.?)[-./ ](\d{4}|\d{2})\b")


def read_date(text: str | None, *, day_first: bool, reference: date | None) -> date | None:
    """``parse_date``, also for ERP prints such as ``15-Jan-2027`` and ``03-DEC-26``."""
    if not text:
        return None
    found = parse_date(text, day_first=day_first, reference=reference)
    if found is not None:
        return found

    def spaced(m: re.Match[str]) -> str:
        year = m.group(3) if len(m.group(3)) == 4 else f"20{m.group(3)}"
        return f"{m.group(1)} {m.group(2)} {year}"

    dashed = _DASHED_DATE.sub(spaced, text)
    return parse_date(dashed, day_first=day_first, reference=reference) if dashed != text else None


def urgent_phrase(text: str) -> str | None:
    """The urgency word a text holds (``URGENT``, ``Eilt!``, ``urgente``, ``加急``), if any.

    Whole words; a word of five letters or more also matches its inflections
    (``urgent`` -> ``urgente``, ``urgently``).
    """
    folded = text.lower()
    for phrase in label_vocabulary().phrases("urgent"):
        if has_cjk(phrase):
            if phrase in text:
                return phrase
            continue
        suffix = r"\w{0,3}" if len(phrase) >= 5 else ""
        if re.search(rf"(?<!\w){re.escape(phrase)}{suffix}(?!\w)", folded):
            return phrase
    return None


# --- rows -> lines -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    """The text of one table cell and where it was read. ``number`` is set when
    the source stored a number (a spreadsheet cell): it is used as is, never
    re-read from text (``0.125`` is no thousand under a decimal-comma locale)."""

    text: str
    provenance: Provenance | None = None
    number: Decimal | None = None

    @property
    def blank(self) -> bool:
        return not self.text.strip()


def _field(value, confidence: float, cell: Cell | None) -> Field:  # noqa: ANN001 - generic helper
    return Field(value, max(0.0, min(1.0, confidence)), cell.provenance if cell else None)


def build_line(
    cells: Mapping[Role, Cell],
    *,
    decimal_comma: bool | None,
    confidence: float = 0.9,
    row_text: str | None = None,
    extra_codes: Sequence[str] = (),
) -> OrderLine | None:
    """One order line from the cells of a row, by column role.

    Returns None for a row that holds no quantity, price or code (a text row).
    ``confidence`` is what the caller trusts the table reading (a ruled table
    more than whitespace columns); arithmetic checks move it up or down.
    """

    def cell(role: Role) -> Cell | None:
        c = cells.get(role)
        return c if c is not None and not c.blank else None

    qty_cell, uom_cell = cell(Role.QUANTITY), cell(Role.UOM)
    price_cell, total_cell = cell(Role.UNIT_PRICE), cell(Role.LINE_TOTAL)

    if qty_cell is not None and qty_cell.number is not None:
        quantity, unit_code, unit_text = qty_cell.number, None, None
    else:
        quantity, unit_code, unit_text = split_quantity(qty_cell.text if qty_cell else None, decimal_comma=decimal_comma)
    if uom_cell is not None:
        unit_code, unit_text = normalise_uom(uom_cell.text), uom_cell.text.strip()

    def amount(c: Cell | None) -> Decimal | None:
        if c is None:
            return None
        return c.number if c.number is not None else parse_amount(c.text, decimal_comma=decimal_comma)[0]

    unit_price, line_total = amount(price_cell), amount(total_cell)

    codes: list[str] = []
    for role in CODE_ROLES:
        if (c := cell(role)) is not None:
            token = " ".join(c.text.split())
            if token and token not in codes:
                codes.append(token)
    description_cell = cell(Role.DESCRIPTION)
    description = " ".join(description_cell.text.split()) if description_cell else None
    if not codes and description:
        codes.extend(t.strip(" ,;:()[]") for t in description.split() if looks_like_code(t))
    for code in extra_codes:
        if code not in codes:
            codes.append(code)

    if quantity is None and unit_price is None and line_total is None and not codes:
        return None

    qty_conf = price_conf = total_conf = confidence
    if qty_cell is not None and quantity is None:
        qty_conf = 0.0
    if unit_text and unit_code is None:
        unit_code = unit_text.upper()
        uom_conf = confidence * 0.5  # printed, but not a unit the vocabulary knows
    else:
        uom_conf = confidence
    derived = False
    if quantity is not None and unit_price is not None and line_total is not None:
        if amounts_agree(quantity, unit_price, line_total):
            qty_conf = price_conf = total_conf = min(1.0, confidence + 0.05)
        else:
            qty_conf, price_conf, total_conf = qty_conf * 0.6, price_conf * 0.6, total_conf * 0.6
    elif quantity is not None and line_total is not None and quantity != 0:
        unit_price, exact = unit_price_from_total(line_total, quantity)
        derived = True
        price_conf = confidence * (0.95 if exact else 0.6)
    elif quantity is None and unit_price and line_total is not None:
        ratio = line_total / unit_price
        if ratio == ratio.to_integral_value():
            quantity, qty_conf = ratio.quantize(Decimal(1)), confidence * 0.6

    customer_cell = cell(Role.CUSTOMER_SKU)
    price_source = price_cell if price_cell is not None and not derived else total_cell
    return OrderLine(
        customer_sku=_field(" ".join(customer_cell.text.split()), confidence, customer_cell) if customer_cell else MISSING,
        description=_field(description, confidence, description_cell) if description else MISSING,
        quantity=_field(quantity, qty_conf, qty_cell) if quantity is not None else MISSING,
        uom=_field(unit_code, uom_conf, uom_cell or qty_cell) if unit_code else MISSING,
        unit_price=_field(unit_price, price_conf, price_source) if unit_price is not None else MISSING,
        quantity_text=qty_cell.text.strip() if qty_cell is not None and quantity is None else None,
        line_total=_field(line_total, total_conf, total_cell) if line_total is not None else MISSING,
        codes=tuple(codes),
        text=" ".join((row_text or " ".join(c.text for c in cells.values())).split()) or None,
    )


def line_amount(line: OrderLine) -> Decimal | None:
    """The line's money value: the printed total, else quantity x unit price."""
    if line.line_total.value is not None:
        return line.line_total.value
    if line.quantity.value is not None and line.unit_price.value is not None:
        return line.quantity.value * line.unit_price.value
    return None


def check_against_total(
    lines: Sequence[OrderLine], totals: Sequence[Decimal], *, additions: Sequence[Decimal] = ()
) -> tuple[tuple[OrderLine, ...], Decimal | None]:
    """Compare the sum of the lines with the totals printed on the document.

    A printed total agrees when it equals the sum of the lines, or the sum plus
    the printed tax and surcharges (``additions``: a gross total). Returns the
    lines (with lowered quantity/price confidence when no printed total
    agrees) and the printed total that matched, if any. With no printed total,
    nothing is known and the lines are returned unchanged.
    """
    amounts = [line_amount(line) for line in lines]
    if not totals or not lines or any(a is None for a in amounts):
        return tuple(lines), None
    net = sum(amounts, Decimal(0))
    extra = sum(additions, Decimal(0))
    for expected in (net, net + extra):
        for printed in totals:
            if abs(printed - expected) <= Decimal("0.02") + abs(expected) * Decimal("0.0001"):
                return tuple(lines), printed
    lowered = tuple(
        replace(
            line,
            quantity=replace(line.quantity, confidence=line.quantity.confidence * 0.8) if line.quantity.present else line.quantity,
            unit_price=replace(line.unit_price, confidence=line.unit_price.confidence * 0.8) if line.unit_price.present else line.unit_price,
        )
        for line in lines
    )
    return lowered, None


# --- addresses -----------------------------------------------------------------

_POSTAL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # (what, pattern) -- the pattern's group "code" is the postal code.
    ("nl", re.compile(r"(?<![\w-])(?P<code>\d{4}\s?[A-Z]{2})(?![\w])")),
    ("gb", re.compile(r"(?<![\w-])(?P<code>[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})(?![\w])")),
    ("ca", re.compile(r"(?<![\w-])(?:[A-Z]{2}\s+)?(?P<code>[A-Z]\d[A-Z]\s?\d[A-Z]\d)(?![\w])")),
    ("us", re.compile(r"(?<![\w-])(?:[A-Z]{2}\s+)(?P<code>\d{5}(?:-\d{4})?)(?![\w-])")),
    ("5", re.compile(r"(?<![\w])(?:[A-Z]{1,2}-)?(?P<code>\d{5})(?![\w-])")),
    ("6", re.compile(r"(?<![\w-])(?P<code>\d{6})(?![\w-])")),
    ("pl", re.compile(r"(?<![\w-])(?P<code>\d{2}-\d{3})(?![\w-])")),
    ("pt", re.compile(r"(?<![\w-])(?P<code>\d{4}-\d{3})(?![\w-])")),
    ("se", re.compile(r"(?<![\w-])(?P<code>\d{3}\s\d{2})(?![\w-])")),
    ("4", re.compile(r"(?<![\w])(?:[A-Z]{1,2}-)?(?P<code>\d{4})(?![\w-])")),
)


@dataclass(frozen=True, slots=True)
class PostalLine:
    code: str
    city: str | None
    rest_before: str  # text before the code (a street on the same line, or the city)


def find_postal(line: str) -> PostalLine | None:
    """The postal code and city of a ``20457 Hamburg`` / ``Bristol BS1 6DZ`` /
    ``Toledo, OH 43612`` / ``Shanghai 201203`` line."""
    text = " ".join(line.split())
    for _, pattern in _POSTAL_PATTERNS:
        for match in pattern.finditer(text):
            before = text[: match.start()].rstrip(" ,")
            after = text[match.end():].strip(" ,")
            # Drop a country written after the city ("20457 Hamburg, Germany").
            if "," in after:
                head, tail = after.rsplit(",", 1)
                if normalise_country(tail):
                    after = head.strip(" ,")
            if after and re.search(r"[^\W\d_]", after) and not re.match(r"\d", after):
                city = re.sub(r"\s*\([A-Z]{1,3}\)$", "", after)  # code first, city after; "(MI)" is a province
                if "," in before or before:
                    return PostalLine(match.group("code"), city, before)
                return PostalLine(match.group("code"), city, "")
            if before and not after:
                # city before the code (GB, US, CN): the city is the last part
                # before the code, after a comma if there is one.
                head, _, city = before.rpartition(",")
                city = city.strip()
                if not re.search(r"[^\W\d_]", city):
                    continue
                return PostalLine(match.group("code"), city, head.strip(" ,"))
    return None


def _country_of(line: str) -> str | None:
    text = " ".join(line.split()).strip(" ,.")
    if not text or re.search(r"\d", text):
        return None
    if code := normalise_country(text):
        return code
    tokens = text.split()
    if len(tokens) <= 4:
        for token in tokens:
            if len(token) > 2 and (code := normalise_country(token)):
                return code
    return None


def _is_attention(line: str) -> bool:
    key = fold_label(line)
    return any(key.startswith(p) for p in label_vocabulary().phrases("attention"))


def parse_address(lines: Sequence[str]) -> Address | None:
    """An address block, top to bottom, into name / street / postal code / city / country.

    The postal line is the last line holding a postal code with a city; the
    street is the line before it (or the text before the code on the same
    line); everything above the street is the name. A country line after the
    postal line sets the country; without one the country stays unknown.
    """
    rows = [" ".join(line.split()) for line in lines if line and line.strip()]
    rows = [r for r in rows if not _is_attention(r)]
    if not rows:
        return None
    country = None
    if len(rows) > 1 and (code := _country_of(rows[-1])):
        country = code
        rows = rows[:-1]
    postal_index, postal = None, None
    for index in range(len(rows) - 1, 0, -1):
        if found := find_postal(rows[index]):
            postal_index, postal = index, found
            break
    if postal is None or postal_index is None:
        if len(rows) == 1 and (found := find_postal(rows[0])):
            return Address(postal_code=found.code, city=found.city, country=country)
        name = rows[0]
        street = rows[1] if len(rows) > 1 else None
        return Address(name=name, street=street, country=country)
    if postal.city and (tail := _country_tail(postal.city)):
        postal = PostalLine(postal.code, tail[0], postal.rest_before)
        country = country or tail[1]
    above = rows[:postal_index]
    street: str | None
    if postal.rest_before and re.search(r"\d", postal.rest_before):
        street = postal.rest_before
        name_rows = above
    elif len(above) >= 3 and _is_unit_line(above[-1]) and re.search(r"\d", above[-2]):
        street = f"{above[-2]}, {above[-1]}"  # "1200 Commerce Blvd" + "Suite 200"
        name_rows = above[:-2]
    elif len(above) >= 2:
        street = above[-1]
        name_rows = above[:-1]
    else:
        street = None
        name_rows = above
    # A street written after the name on the same line ("ACME Ltd, 12 High St").
    if street is None and name_rows and "," in name_rows[-1]:
        head, tail = name_rows[-1].rsplit(",", 1)
        if re.search(r"\d", tail):
            name_rows = [*name_rows[:-1], head]
            street = tail.strip()
    name = " ".join(name_rows).strip(" ,") or None
    return Address(name=name, street=street, postal_code=postal.code, city=postal.city, country=country)


def _is_unit_line(line: str) -> bool:
    """A line that only names a suite/floor/unit ("Suite 200", "3rd Floor", "#12")."""
    words = fold_label(line).replace("#", "# ").split()
    units = label_vocabulary().phrases("address_units")
    return 1 <= len(words) <= 3 and any(w.rstrip(".") in units for w in words) and any(c.isdigit() for c in line)


def _country_tail(city: str) -> tuple[str, str] | None:
    """``"Hamburg Germany"`` -> ("Hamburg", "DE") when the city line ends in a country."""
    words = city.split()
    for n in (3, 2, 1):
        if len(words) > n and (code := normalise_country(" ".join(words[-n:]))) and len(" ".join(words[-n:])) > 2:
            return " ".join(words[:-n]).rstrip(" ,"), code
    return None


# --- file names ----------------------------------------------------------------

_PO_PREFIX = re.compile(r"^(?:p\.?o\.?|po-?nr|order)[-_#.\s]*(?=[A-Za-z]*\d)", re.I)


def po_number_from_filename(name: str) -> str | None:
    """The PO number a file name holds (``PO-4500012345.pdf`` -> ``4500012345``).

    A token qualifies when it holds a digit, is not a date (``20261109``) or a
    scanner's time stamp (12+ digits in a row), and is 4 to 30 characters long.
    """
    stem = re.sub(r"\.[A-Za-z0-9]{2,5}$", "", name.rsplit("/", 1)[-1])
    for raw in re.split(r"[_\s]+", stem):
        token = _PO_PREFIX.sub("", raw).strip("-.#")
        if not re.search(r"\d", token) or not 4 <= len(token) <= 30:
            continue
        if re.search(r"\d{12,}", token):
            continue
        if re.fullmatch(r"(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])", token):
            continue
        if re.fullmatch(r"(0[1-9]|[12]\d|3[01])[.-](0[1-9]|1[0-2])[.-](19|20)?\d{2}", token):
            continue
        return token
    return None


def parse_number_cell(value: object, *, decimal_comma: bool | None) -> Decimal | None:
    """A spreadsheet cell as a Decimal: ints exactly, floats by their shortest
    repr rounded to 10 places (5.9 -> 5.9, not 5.9000000000000003552...), text parsed."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        try:
            number = Decimal(repr(round(value, 10)))
        except InvalidOperation:
            return None
        return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()
    if isinstance(value, Decimal):
        return value
    return parse_decimal(str(value), decimal_comma=decimal_comma)


def unreadable_order(doc: Document, problem: str) -> Order:
    """The order entry for a document nobody can read automatically: a person must.

    Keeps the PO number the file name holds, at low confidence, so the handler
    and the duplicate check have something to go on."""
    po = po_number_from_filename(doc.name)
    return Order(
        source=doc.source,
        po_number=Field(po, 0.4, Provenance(doc.source, rule="file_name")) if po else MISSING,
        reasons=(Reason(ReasonCode.UNREADABLE_DOCUMENT, message=f"{doc.name} {problem}"),),
    )
