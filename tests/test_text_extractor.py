"""Orders written in email text (extractors.text), checked field by field.

Golden files: ``tests/golden/text/NAME.eml`` next to ``NAME.json``. Each JSON
holds the extraction context, whether an order document is attached, the
expected message kind and referenced PO (extractors.classify), and every
field of every order the text extractor must return. ``corpus_*`` files are
messages of the labelled dev corpus; ``hw_*`` files are hand-written in
other languages, layouts and encodings.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.model import Field, Order, ReasonCode, RawMessage
from extractors import sniff
from extractors.classify import classify
from extractors.context import ExtractionContext
from extractors.mime import parse_message
from extractors.quotes import order_text
from extractors.text import (
    find_dates,
    find_po_numbers,
    find_subject_po,
    guess_language,
    order_fields_from_text,
    orders_from_text,
    parse_address,
)

GOLDEN = Path(__file__).parent / "golden" / "text"
CASES = sorted(p.stem for p in GOLDEN.glob("*.eml"))


def _context(spec: dict, sent: date | None) -> ExtractionContext:
    ref = spec.get("reference_date")
    return ExtractionContext(
        reference_date=date.fromisoformat(ref) if ref else sent,
        day_first=spec.get("day_first"),
        decimal_comma=spec.get("decimal_comma"),
        country=spec.get("country"),
    )


def _value(f: Field) -> object:
    v = f.value
    if isinstance(v, Decimal | date):
        return str(v)
    return v


def order_json(order: Order) -> dict:
    ship = order.ship_to.value
    return {
        "po_number": order.po_number.value,
        "order_date": _value(order.order_date),
        "delivery_date": _value(order.delivery_date),
        "currency": order.currency.value,
        "ship_to": None
        if ship is None
        else {k: getattr(ship, k) for k in ("name", "street", "postal_code", "city", "country")},
        "urgent": order.urgent.value,
        "notes": order.notes.value,
        "reasons": [r.code.value for r in order.reasons],
        "lines": [
            {
                "quantity": _value(ln.quantity),
                "quantity_text": ln.quantity_text,
                "uom": ln.uom.value,
                "unit_price": _value(ln.unit_price),
                "line_total": _value(ln.line_total),
                "customer_sku": ln.customer_sku.value,
                "codes": list(ln.codes),
                "description": ln.description.value,
            }
            for ln in order.lines
        ],
    }


def run_golden(name: str) -> tuple[dict, tuple[Order, ...], str]:
    """What the extractors make of golden message ``name`` (the JSON shape of its expectation)."""
    expected = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    message = parse_message(RawMessage((GOLDEN / f"{name}.eml").read_bytes(), f"golden:{name}", name))
    context = _context(expected.get("context") or {}, message.sent_at.date() if message.sent_at else None)
    text = order_text(message.body, message.quoted, message.subject)
    orders = orders_from_text(text, source="body", context=context, subject=message.subject)
    has_doc = any(d.content_type in (sniff.PDF, sniff.XLSX, sniff.CSV, sniff.XLS) for d in message.documents)
    kind = classify(message, has_order_document=has_doc, body_orders=len(orders))
    actual = {
        "context": expected.get("context") or {},
        "has_order_document": has_doc,
        "kind": kind.kind.value,
        "referenced_po": kind.referenced_po,
        "orders": [order_json(o) for o in orders],
    }
    return actual, orders, text


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    """Given a golden message, when its text is extracted and classified, then every field
    equals the expectation, and every present value says where it came from."""
    expected = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    actual, orders, text = run_golden(name)
    assert actual["kind"] == expected["kind"]
    assert actual["has_order_document"] == expected["has_order_document"]
    assert actual["referenced_po"] == expected["referenced_po"]
    assert len(actual["orders"]) == len(expected["orders"])
    for got, want in zip(actual["orders"], expected["orders"], strict=True):
        for key in ("po_number", "order_date", "delivery_date", "currency", "ship_to", "urgent", "notes", "reasons"):
            assert got[key] == want[key], key
        assert len(got["lines"]) == len(want["lines"])
        for n, (gl, wl) in enumerate(zip(got["lines"], want["lines"], strict=True)):
            assert gl == wl, f"line {n + 1}"
    for order in orders:
        _assert_provenance(order, text)


def _assert_provenance(order: Order, text: str) -> None:
    fields = [order.po_number, order.order_date, order.delivery_date, order.currency, order.ship_to, order.notes]
    for line in order.lines:
        fields += [line.quantity, line.uom, line.unit_price, line.customer_sku, line.description]
    for f in fields:
        assert 0.0 <= f.confidence <= 1.0
        if not f.present:
            continue
        assert f.confidence > 0
        assert f.provenance is not None and f.provenance.rule
        if f.provenance.source == "body" and f.provenance.span is not None:
            a, b = f.provenance.span
            assert 0 <= a < b <= len(text)


def test_every_golden_message_has_an_expectation() -> None:
    assert CASES
    for name in CASES:
        assert (GOLDEN / f"{name}.json").exists(), name
    assert sum(1 for n in CASES if n.startswith("hw_")) >= 6


# --- unit tests of the parts ------------------------------------------------------

CTX = ExtractionContext(reference_date=date(2026, 11, 20))


def one(text: str, context: ExtractionContext = CTX, subject: str = "") -> Order:
    orders = orders_from_text(text, source="body", context=context, subject=subject)
    assert len(orders) == 1
    return orders[0]


def test_no_order_in_text_returns_nothing() -> None:
    for text in ("", "Hello, please find attached our PO 4711.\n\nRegards\nAnna", "Thanks for the quick delivery!"):
        assert orders_from_text(text, source="body", context=CTX) == ()


def test_signature_address_is_never_the_ship_to_and_signature_lines_are_not_items() -> None:
    text = (
        "Please book 5 pcs AX-1234 under PO 55.1234.\n\nBest regards\nAnna Smith\nACME Ltd\n"
        "12 Main Road, Leeds LS1 1AA, United Kingdom\n2 Floors, 3 offices\nTel. +44 113 000000\n"
    )
    order = one(text)
    assert not order.ship_to.present
    assert len(order.lines) == 1
    assert order.po_number.value == "55.1234"


@pytest.mark.parametrize(
    ("text", "po"),
    [
        ("Our PO number is 4500012345.", "4500012345"),
        ("PO#: 4471-22", "4471-22"),
        ("Bestellnummer: AW26/3252", "AW26/3252"),
        ("unter der Bestellnummer 4510072564 bestellen wir", "4510072564"),
        ("Numéro de commande : CMD-27-0042", "CMD-27-0042"),
        ("nº de pedido PED-2027/118", "PED-2027/118"),
        ("Numero ordine: ODA/2027/0031", "ODA/2027/0031"),
        ("Ons bestelnummer: HF-88123", "HF-88123"),
        ("订单号：CG20270115", "CG20270115"),
        ("P.O. 778812", "778812"),
    ],
)
def test_po_number_labels(text: str, po: str) -> None:
    assert find_po_numbers(text)[0].value == po


def test_po_from_subject_only_when_the_body_has_none_and_never_from_a_reply_subject() -> None:
    body = "Please send 5 pcs AX-1234.\n"
    assert one(body, subject="Order 6834965").po_number.value == "6834965"
    assert one(body, subject="Order 6834965").po_number.provenance.source == "subject"
    assert not one(body, subject="RE: your PO 6834965").po_number.present
    assert one("PO 111222: 5 pcs AX-1234\n", subject="PO 999888").po_number.value == "111222"
    assert find_subject_po("Bestellung Nr. AW26/3252").value == "AW26/3252"
    assert find_subject_po("Hello there") is None


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        ("5 pcs AX-1234, deliver by 14/12/2026", CTX, date(2026, 12, 14)),
        ("5 pcs AX-1234, deliver by 12/14/2026", ExtractionContext(date(2026, 11, 20), day_first=False), date(2026, 12, 14)),
        ("5 pcs AX-1234, ship by 01/05/2027", ExtractionContext(date(2026, 11, 20), day_first=False), date(2027, 1, 5)),
        ("5 pcs AX-1234\nNeeded by: 7 December", CTX, date(2026, 12, 7)),
        ("5 pcs AX-1234, needed by Friday 5th Feb", CTX, date(2027, 2, 5)),
        ("5 Stück AX-1234 bis zum 03.12.2026", CTX, date(2026, 12, 3)),
        ("5 Stück AX-1234\nGewünschter Liefertermin: 21. Dezember", CTX, date(2026, 12, 21)),
        ("5 pièces AX-1234, livraison le 8 janvier 2027", CTX, date(2027, 1, 8)),
        ("5 unidades AX-1234, entrega antes del 20/01/2027", CTX, date(2027, 1, 20)),
        ("5 pezzi AX-1234, consegna entro il 12 febbraio 2027", CTX, date(2027, 2, 12)),
        ("5 stuks AX-1234, leverdatum: 03-02-2027", CTX, date(2027, 2, 3)),
        ("AX-1234 5个\n交货日期：2027年1月20日", CTX, date(2027, 1, 20)),
        ("AX-1234 5个\n请于2026年12月14日前送达", CTX, date(2026, 12, 14)),
        ("5 Stück AX-1234, Lieferung 14.12.2026 spätestens", CTX, date(2026, 12, 14)),
    ],
)
def test_delivery_dates(text: str, context: ExtractionContext, expected: date) -> None:
    order = one(text, context)
    assert order.delivery_date.value == expected
    assert order.delivery_date.provenance.rule


def test_a_date_without_a_cue_and_the_email_date_are_not_order_dates() -> None:
    order = one("As discussed on 12/11/2026:\n5 pcs AX-1234\n")
    assert not order.order_date.present
    assert not order.delivery_date.present
    assert one("Order date: 20.11.2026\n5 pcs AX-1234\n").order_date.value == date(2026, 11, 20)


def test_set_is_a_unit_not_september() -> None:
    assert [(d.value, d.weak) for d in find_dates("1 set of drill bits", CTX)] == [(date(2027, 9, 1), True)]
    order = one("- 1 set Flat screwdriver FS-2040\n")
    assert not order.delivery_date.present
    assert order.lines[0].quantity.value == 1


@pytest.mark.parametrize(
    ("line", "qty", "uom", "price", "codes", "description"),
    [
        ("- 120 pcs x AX-1523 Hand dispenser for stretch film", "120", "EA", None, ("AX-1523",), "Hand dispenser for stretch film"),
        ("- 2 cases x Refuse sacks 120L black (25)", "2", "CS", None, (), "Refuse sacks 120L black (25)"),
        ("Pos. 4: 1.000 m - Earth cable H07V-K 6mm² (unsere Art.-Nr. 100075125)", "1000", "MTR", None, ("100075125", "H07V-K"), "Earth cable H07V-K 6mm²"),
        ("1) Packing tape PP 50mm x 66m clear (AX-5235) - 8 cartons at €55.80 per case", "8", "CS", "55.80", ("AX-5235",), "Packing tape PP 50mm x 66m clear"),
        ("4 Schachteln BR-3208 zu 5,90 EUR/Schachtel", "4", "BX", "5.90", ("BR-3208",), None),
        ("  2  Sack truck 250kg @ 620.15 CNY", "2", None, "620.15", (), "Sack truck 250kg"),
        ("3 boxes GK-8913 Cable ties 200x4.8 black (100)", "3", "BX", None, ("GK-8913",), "Cable ties 200x4.8 black (100)"),
        ("AX-1523 x 40", "40", None, None, ("AX-1523",), None),
        ("BR-3208: 12 Stk. à 3,20 € pro Stück", "12", "EA", "3.20", ("BR-3208",), None),
        ("10 boîtes de vis à bois (réf. VB.0247.06)", "10", "BX", None, ("VB.0247.06",), "vis à bois"),
        ("GK-8913 扎带 200x4.8 黑色 10盒", "10", "BX", None, ("GK-8913",), "扎带 200x4.8 黑色"),
        ("Qty: 25 - Threaded rod M10 x 1000mm zinc", "25", None, None, (), "Threaded rod M10 x 1000mm zinc"),
        ("- three cartons of Hand cleaner paste 3L", "3", "CS", None, (), "Hand cleaner paste 3L"),
        ("5 rolls of Insulating tape 19mm x 20m black", "5", None, None, (), "Insulating tape 19mm x 20m black"),
        ("- 2 x FM-1801 Refuse sacks 120L black (25) @ EUR 14.50/case", "2", "CS", "14.50", ("FM-1801",), "Refuse sacks 120L black (25)"),
        ("Item: AX-1234, Qty: 10, Price: 3.40 EUR", "10", None, "3.40", ("AX-1234",), None),
        ("Cantidad: 10 cajas - Referencia: AX-1234 - Guantes de nitrilo", "10", "BX", None, ("AX-1234",), "Guantes de nitrilo"),
        ("n. 10 pezzi articolo AX-1234 Guanti", "10", "EA", None, ("AX-1234",), "Guanti"),
        ("物料号：AX-1234 数量：10 个", "10", "EA", None, ("AX-1234",), None),
        ("1. AX-1234 x 10 pcs", "10", "EA", None, ("AX-1234",), None),
    ],
)
def test_item_lines(line: str, qty: str, uom: str | None, price: str | None, codes: tuple, description: str | None) -> None:
    order = one(line + "\n")
    assert len(order.lines) == 1
    ln = order.lines[0]
    assert ln.quantity.value == Decimal(qty)
    assert ln.uom.value == uom
    assert ln.unit_price.value == (Decimal(price) if price else None)
    assert ln.codes == codes
    assert ln.description.value == description
    assert ln.text == line.strip()


def test_german_thousands_and_english_decimals() -> None:
    de = ExtractionContext(date(2026, 11, 20), decimal_comma=True)
    assert one("1.000 Stück AX-1234\n", de).lines[0].quantity.value == Decimal(1000)
    assert one("2,5 kg Citric acid CA-1001\n", de).lines[0].quantity.value == Decimal("2.5")
    assert one("2.5 kg Citric acid CA-1001\n", ExtractionContext(date(2026, 11, 20), decimal_comma=False)).lines[0].quantity.value == Decimal("2.5")
    # unknown locale: the language of the text decides ("Stück", "bitte" -> German)
    assert one("Bitte liefern Sie uns 1.500 Stück AX-1234 für unser Werk.\n").lines[0].quantity.value == Decimal(1500)


@pytest.mark.parametrize("phrase", ["a few pcs", "some boxes", "einige Kartons", "quelques boîtes", "algunas cajas", "alcune scatole", "een paar stuks", "一些"])
def test_vague_quantities_are_missing_with_a_reason(phrase: str) -> None:
    order = one(f"- {phrase} Junction box IP65 JB-1001\n")
    ln = order.lines[0]
    assert not ln.quantity.present
    assert ln.quantity_text == phrase
    assert order.reason_codes == (ReasonCode.AMBIGUOUS_QUANTITY,)


def test_several_items_in_one_sentence() -> None:
    order = one("Please send 20 boxes of AX-1234 and 5 cases of BR-3208 by 14/12/2026.\n")
    assert [(ln.quantity.value, ln.uom.value, ln.codes) for ln in order.lines] == [
        (Decimal(20), "BX", ("AX-1234",)),
        (Decimal(5), "CS", ("BR-3208",)),
    ]
    assert order.delivery_date.value == date(2026, 12, 14)


def test_dimensions_and_standards_are_not_codes_or_quantities() -> None:
    ln = one("- 6 pcs Hex bolt M12x60 DIN 933 8.8 zinc plated (our ref 4711-22)\n").lines[0]
    assert ln.quantity.value == 6
    assert ln.codes == ("4711-22",)
    assert ln.customer_sku.value == "4711-22"


@pytest.mark.parametrize(
    ("text", "urgent"),
    [
        ("URGENT: please deliver 5 pcs AX-1234", True),
        ("Bitte dringend 5 Stück AX-1234 liefern", True),
        ("Eilt! 5 Stück AX-1234", True),
        ("5 pièces AX-1234, en urgence s'il vous plaît", True),
        ("5 unidades AX-1234, es urgente", True),
        ("加急：AX-1234 5个", True),
        ("5 pcs AX-1234 asap please", True),
        ("5 pcs AX-1234, not urgent", False),
        ("5 pcs AX-1234, no rush", False),
        ("5 pcs AX-1234\n\nRegards\nAnna\nUrgent matters: call +44 1 2345", False),
    ],
)
def test_urgent_in_new_text_only(text: str, urgent: bool) -> None:
    assert one(text + "\n").urgent.value is urgent


def test_urgent_in_subject() -> None:
    assert one("5 pcs AX-1234\n", subject="RUSH order").urgent.value is True


@pytest.mark.parametrize(
    ("text", "city", "name"),
    [
        ("Ship to: our Cleveland site", "Cleveland", "our Cleveland site"),
        ("Lieferadresse: unseren Standort Pirna", "Pirna", "unseren Standort Pirna"),
        ("Merci de livrer à notre site de Lyon", "Lyon", "notre site de Lyon"),
        ("Entregar en nuestra planta de Zaragoza", "Zaragoza", "nuestra planta de Zaragoza"),
        ("Consegna presso il nostro magazzino di Verona", "Verona", "il nostro magazzino di Verona"),
        ("Graag leveren aan onze vestiging in Utrecht", "Utrecht", "onze vestiging in Utrecht"),
        ("please deliver to our plant in Leeds", "Leeds", "our plant in Leeds"),
        ("Leveren op ons magazijn in Tilburg.", "Tilburg", "ons magazijn in Tilburg"),
        ("请送到我们的松江工厂", "松江", "我们的松江工厂"),
    ],
)
def test_site_references(text: str, city: str, name: str) -> None:
    order = one(f"5 pcs AX-1234\n{text}\n")
    assert order.ship_to.value.city == city
    assert order.ship_to.value.name == name
    assert order.ship_to.confidence < 0.8  # the resolve stage must confirm it


@pytest.mark.parametrize(
    ("lines", "single", "expected"),
    [
        (["Thames Valley Packaging Ltd, Slough DC", "140 Edinburgh Avenue", "Slough SL1 4SS", "United Kingdom"], False,
         ("Thames Valley Packaging Ltd, Slough DC", "140 Edinburgh Avenue", "SL1 4SS", "Slough", "GB")),
        (["Great Lakes Industrial Supply - Toledo Warehouse, 2250 Matzinger Rd, Toledo, OH 43612, USA"], True,
         ("Great Lakes Industrial Supply - Toledo Warehouse", "2250 Matzinger Rd", "43612", "Toledo", "US")),
        (["Van der Berg Techniek B.V., Hurksestraat 44, 5652 AJ Eindhoven, Netherlands"], True,
         ("Van der Berg Techniek B.V.", "Hurksestraat 44", "5652 AJ", "Eindhoven", "NL")),
        (["Alpenland Werkzeuge GmbH", "Landsberger Straße 302", "80687 München", "Deutschland"], False,
         ("Alpenland Werkzeuge GmbH", "Landsberger Straße 302", "80687", "München", "DE")),
        (["Summit Precision - Plant 2, 1200 Industrial Way, Longmont, CO 80501"], True,
         ("Summit Precision - Plant 2", "1200 Industrial Way", "80501", "Longmont", None)),
    ],
)
def test_parse_address(lines: list[str], single: bool, expected: tuple) -> None:
    a = parse_address(lines, single_line=single)
    assert (a.name, a.street, a.postal_code, a.city, a.country) == expected


def test_labelled_notes_and_delivery_instructions() -> None:
    order = one("5 pcs AX-1234\nDelivery instructions: gate 4, before 10:00\n")
    assert order.notes.value == "gate 4, before 10:00"
    assert not one("5 pcs AX-1234\n").notes.present


def test_ship_to_after_a_colon_in_a_delivery_sentence() -> None:
    text = "Please ship 10 pcs AX-1234 by 12/15/2026 to: Summit Precision - Plant 2, 1200 Industrial Way, Longmont, CO 80501, USA.\n"
    address = one(text, ExtractionContext(date(2026, 11, 20), day_first=False)).ship_to.value
    assert (address.name, address.street, address.postal_code, address.city, address.country) == (
        "Summit Precision - Plant 2", "1200 Industrial Way", "80501", "Longmont", "US")


def test_huge_lines_stay_fast() -> None:
    import time

    start = time.monotonic()
    orders_from_text("a" * 20000 + " 1 " + "x " * 5000 + "\n- 5 pcs AX-1234\n", source="body", context=CTX)
    assert time.monotonic() - start < 5


def test_prices_give_the_currency() -> None:
    assert one("5 pcs AX-1234 at £3.40 each\n").currency.value == "GBP"
    assert one("5 pcs AX-1234 @ 3.40 USD\n").currency.value == "USD"
    assert not one("5 pcs AX-1234\n").currency.present


def test_simple_tables_with_headers() -> None:
    text = "Art.-Nr.\tBezeichnung\tMenge\tEinheit\tEinzelpreis\nAX-1\tHandschuhe\t5\tKartons\t12,50 €\n\tSchrauben 4x40\t10\tSchachteln\t3,20 €\n"
    order = one(text)
    assert [(ln.codes, ln.description.value, ln.quantity.value, ln.uom.value, ln.unit_price.value) for ln in order.lines] == [
        (("AX-1",), "Handschuhe", Decimal(5), "CS", Decimal("12.50")),
        ((), "Schrauben 4x40", Decimal(10), "BX", Decimal("3.20")),
    ]
    assert order.currency.value == "EUR"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Bitte liefern Sie uns die folgende Bestellung, vielen Dank und Grüße", "de"),
        ("Merci de nous livrer la commande suivante, cordialement", "fr"),
        ("Please deliver the following order to our site, thanks and regards", "en"),
        ("Les rogamos nos suministren el siguiente pedido, gracias y saludos", "es"),
        ("Vi preghiamo di consegnare il nostro ordine, grazie e saluti", "it"),
        ("Graag leveren wij bestellen het volgende, met vriendelijke groet en bedankt", "nl"),
        ("请安排发货，我们的订单如下，数量见下表，谢谢", "zh"),
        ("12345", None),
    ],
)
def test_guess_language(text: str, lang: str | None) -> None:
    assert guess_language(text) == lang


def test_order_fields_of_a_body_that_accompanies_an_attachment() -> None:
    """Given 'attached is our order ... Please deliver to ADDRESS by DATE', when the fields
    are read, then they fill what a CSV or PDF order may leave out; no lines are needed."""
    text = (
        "Hello,\n\nattached is our order 3892615 as CSV.\nPlease deliver to Summit Precision Components - Plant 2, "
        "1200 Industrial Way, Longmont, CO 80501, USA by 12/24/2026.\n\nKind regards,\nRachel\n"
    )
    fields = order_fields_from_text(text, source="body", context=ExtractionContext(date(2026, 11, 20), day_first=False))
    assert fields is not None and fields.lines == ()
    assert fields.po_number.value == "3892615"
    assert fields.delivery_date.value == date(2026, 12, 24)
    a = fields.ship_to.value
    assert (a.name, a.street, a.postal_code, a.city, a.country) == (
        "Summit Precision Components - Plant 2", "1200 Industrial Way", "80501", "Longmont", "US")
    assert order_fields_from_text("Hi, see attached.\n\nThanks\nAnna\n", source="body", context=CTX) is None


def test_a_po_label_is_a_whole_word_not_the_start_of_the_number():
    """'PO' is a label, but not inside 'POL385859': that whole token is the number."""
    from extractors.text import find_po_numbers, find_subject_po

    assert find_po_numbers("Order POL385859 attached as a spreadsheet.") == []
    assert find_subject_po("Order POL385859").value == "POL385859"
    assert [p.value for p in find_po_numbers("PO#4711-22 attached")] == ["4711-22"]
    assert [p.value for p in find_po_numbers("订单号12345，谢谢")] == ["12345"]
