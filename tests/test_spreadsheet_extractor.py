"""The spreadsheet extractor: CSV dialects, XLSX with the table below key/value rows, the corpus sheets."""

from __future__ import annotations

import email
import io
import json
from datetime import date, datetime
from decimal import Decimal
from email import policy

import openpyxl
import pytest

from bot.model import Document, ReasonCode
from extractors.context import ExtractionContext
from extractors.spreadsheet import orders_from_sheet
from tests.test_pdf_extractor import CORPUS, corpus_attachment, mismatches, needs_corpus

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx(rows: list[list[object]], title: str = "Bestellung") -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_csv_with_semicolons_decimal_commas_and_cp1252() -> None:
    """Given a German CSV export (cp1252, ';', decimal commas, € in prices, a
    thousands dot in a quantity) with key/value rows above the table, when it
    is extracted, then numbers, units, dates and the PO number are exact."""
    text = (
        "Bestellnummer;4500998877;;;\r\n"
        "Bestelldatum;24.11.2026;;;\r\n"
        "Liefertermin;08.12.2026;;;\r\n"
        ";;;;\r\n"
        "Artikel-Nr.;Bezeichnung;Menge;ME;Einzelpreis;Gesamtpreis\r\n"
        "AX-2291;Stretchfolie 500mm;24;Stk;3,40 €;81,60 €\r\n"
        "BR-4896;Sechskantschraube M8x40;1.200;Stk;0,125 €;150,00 €\r\n"
        "KL-1506;Schneidöl Konzentrat;12,5;kg;4,60 €;57,50 €\r\n"
        "Gesamtsumme;;;;;289,10 €\r\n"
    )
    doc = Document("Bestellung_4500998877.csv", "text/csv", text.encode("cp1252"))
    (order,) = orders_from_sheet(doc, context=ExtractionContext())
    assert order.po_number.value == "4500998877"
    assert order.order_date.value == date(2026, 11, 24) and order.delivery_date.value == date(2026, 12, 8)
    got = [(l.codes, l.quantity.value, l.uom.value, l.unit_price.value) for l in order.lines]
    assert got == [
        (("AX-2291",), Decimal(24), "EA", Decimal("3.40")),
        (("BR-4896",), Decimal(1200), "EA", Decimal("0.125")),
        (("KL-1506",), Decimal("12.5"), "KGM", Decimal("4.60")),
    ]
    assert order.lines[0].description.value == "Stretchfolie 500mm"
    assert order.lines[1].quantity.provenance.rule == "csv:C7"


@pytest.mark.parametrize("delimiter", [",", "\t", "|"])
def test_csv_delimiters_are_sniffed(delimiter: str) -> None:
    rows = [["Item", "Description", "Qty", "Unit", "Price (USD)"], ["MQ-5204", "Stackable chair", "2", "EA", "45.78"]]
    data = "\n".join(delimiter.join(r) for r in rows).encode("utf-8-sig")
    (order,) = orders_from_sheet(Document("order_3892615.csv", "text/csv", data), context=ExtractionContext())
    assert order.po_number.value == "3892615" and order.po_number.confidence <= 0.5  # from the file name only
    assert order.currency.value == "USD"
    (line,) = order.lines
    assert (line.codes, line.quantity.value, line.unit_price.value) == (("MQ-5204",), Decimal(2), Decimal("45.78"))


def test_xlsx_with_the_table_below_key_value_rows() -> None:
    """Given an XLSX whose first rows are a title and key/value pairs (one as
    "Label: value" in a single cell, a ship-to continuing in the rows below,
    date cells) and whose table starts on row 11, when it is extracted, then
    header fields and lines are read, Excel floats are exact and provenance
    names the cells."""
    data = xlsx([
        ["Purchase order", None, None],
        ["PO number: PO-77120"],
        ["Order date", datetime(2026, 11, 20)],
        ["Requested delivery", datetime(2026, 12, 15)],
        ["Currency", "GBP"],
        ["Deliver to", "Thames Valley Packaging Ltd, Slough DC"],
        [None, "140 Edinburgh Avenue"],
        [None, "Slough SL1 4SS"],
        [None, "United Kingdom"],
        [],
        ["Line", "Our part no", "Your item no", "Description", "Qty", "UoM", "Unit price", "Line total"],
        [1, "TV-118", "AX-2040", "Stretch film 500mm", 6, "case", 5.9, 35.4],
        [2, "TV-204", "HP-4180", "Hose clamp 32-50mm", 250, "pcs", 0.4, 100],
        [3, "TV-300", "MQ-1001", "Rush seat pad 40x40", 2, "pcs", 7.5, 15],
    ])
    (order,) = orders_from_sheet(Document("PO-77120.xlsx", XLSX, data), context=ExtractionContext())
    assert order.po_number.value == "PO-77120"
    assert (order.order_date.value, order.delivery_date.value) == (date(2026, 11, 20), date(2026, 12, 15))
    assert order.currency.value == "GBP"
    ship = order.ship_to.value
    assert (ship.name, ship.street, ship.postal_code, ship.city, ship.country) == (
        "Thames Valley Packaging Ltd, Slough DC", "140 Edinburgh Avenue", "SL1 4SS", "Slough", "GB")
    first, second, _ = order.lines
    assert str(first.unit_price.value) == "5.9" and first.uom.value == "CS" and first.quantity.value == 6
    assert first.codes == ("AX-2040", "TV-118") and first.customer_sku.value == "TV-118"
    assert (second.quantity.value, second.uom.value, second.unit_price.value) == (250, "EA", Decimal("0.4"))
    assert first.unit_price.provenance.rule == "xlsx:Bestellung!G12"
    assert order.urgent.value is False  # a product called "Rush ..." does not make the order urgent


def test_xlsx_key_values_below_the_table_and_an_urgent_mark() -> None:
    data = xlsx([
        ["Artikel", "Beschreibung", "Anzahl", "Preis"],
        ["CT-3071", "Fächerscheibe 125mm", 4, 26],
        [],
        [],
        ["Bestellnummer", 4711],
        ["Hinweis", "EILT – bitte Expresslieferung"],
    ])
    (order,) = orders_from_sheet(Document("liste.xlsx", XLSX, data), context=ExtractionContext())
    assert order.po_number.value == "4711"
    assert order.urgent.value is True
    assert [(l.codes, l.quantity.value, l.unit_price.value) for l in order.lines] == [(("CT-3071",), 4, 26)]


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("Order_123456.xlsx", b"PK\x03\x04 broken zip", "not a readable XLSX"),
        ("Order_123456.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "legacy binary .xls"),
        ("Order_123456.csv", b"just a sentence, no table\n", "no line-item table"),
    ],
)
def test_unreadable_sheet_gives_one_order_for_review(name: str, data: bytes, problem: str) -> None:
    (order,) = orders_from_sheet(Document(name, "application/octet-stream", data), context=ExtractionContext())
    assert order.reason_codes == (ReasonCode.UNREADABLE_DOCUMENT,)
    assert name in order.reasons[0].message and problem in order.reasons[0].message
    assert order.po_number.value == "123456"


CORPUS_SHEETS = [("0006", "Order_6834965.xlsx"), ("0043", "Order_ODA-2026-0690.xlsx"), ("0009", "order_3892615.csv")]


@needs_corpus
@pytest.mark.parametrize(("message", "filename"), CORPUS_SHEETS)
def test_corpus_sheet_matches_its_label(message: str, filename: str) -> None:
    """The sheet orders of the dev corpus. The CSV carries only lines (its
    delivery date and ship-to are in the e-mail body), so only its PO number,
    currency and lines are compared."""
    doc, label, context = corpus_attachment(message, filename)
    (order,) = orders_from_sheet(doc, context=context)
    expected = label["orders"][0]
    if filename.endswith(".csv"):
        expected = {k: expected[k] for k in ("po_number", "currency", "lines")}
    assert mismatches(order, expected) == []


@needs_corpus
def test_corpus_has_the_sheets_this_module_tests() -> None:
    names = set()
    for message, _ in CORPUS_SHEETS:
        msg = email.message_from_binary_file((CORPUS / "messages" / f"{message}.eml").open("rb"), policy=policy.default)
        names |= {p.get_filename() for p in msg.iter_attachments()}
        assert json.loads((CORPUS / "labels" / f"{message}.json").read_text())["kind"] == "order"
    assert {f for _, f in CORPUS_SHEETS} <= names


def test_csv_export_that_repeats_order_fields_on_every_row() -> None:
    """Given an ERP export with the PO number, delivery date and currency as
    columns of every line and a total row, when it is extracted, then the
    order fields come from the columns and the total agrees with the lines."""
    text = (
        "PO Number,Line,Item,Description,Qty,UOM,Unit Price,Delivery Date,Currency\n"
        "4501234567,10,AX-2291,Pallet wrap 500mm,24,EA,3.40,12/15/2026,USD\n"
        "4501234567,20,BR-4896,Hex bolt M8x40,2,BX,20.40,12/15/2026,USD\n"
        "Total,,,,,,122.40,,\n"
    )
    (order,) = orders_from_sheet(Document("export.csv", "text/csv", text.encode()), context=ExtractionContext())
    assert order.po_number.value == "4501234567" and order.po_number.provenance.rule == "csv:A2"
    assert order.delivery_date.value == date(2026, 12, 15) and order.currency.value == "USD"
    assert [l.codes for l in order.lines] == [("AX-2291",), ("BR-4896",)]
    assert order.document_total.value == Decimal("122.40") and order.document_total.confidence > 0.9


def test_xlsx_columns_with_unknown_headers_get_their_roles_from_the_data() -> None:
    """Given a sheet whose quantity and price columns carry headers the
    vocabulary does not know ('Pcs', 'Each'), when it is extracted, then the
    roles come from the cells (whole numbers, amounts) and the lines are read."""
    data = xlsx([
        ["Part No.", "Description", "Pcs", "Each", "Amount"],
        ["AX-2291", "Pallet wrap 500mm", 24, 3.4, 81.6],
        ["BR-4896", "Hex bolt M8x40", 2, 20.4, 40.8],
    ])
    (order,) = orders_from_sheet(Document("PO-5501.xlsx", XLSX, data), context=ExtractionContext())
    assert [(l.codes, l.quantity.value, l.unit_price.value) for l in order.lines] == [
        (("AX-2291",), 24, Decimal("3.4")), (("BR-4896",), 2, Decimal("20.4"))]


def test_xlsx_caption_row_over_value_row_and_two_pairs_in_one_row() -> None:
    data = xlsx([
        ["Order No.", "Order Date", "Currency"],
        ["PO-99001", datetime(2026, 11, 30), "EUR"],
        ["Delivery Date", "12.12.2026", "Notes", "Ring the bell"],
        [],
        ["Item", "Description", "Qty", "Price"],
        ["AX-1", "Widget", 3, 2.5],
    ])
    (order,) = orders_from_sheet(Document("x.xlsx", XLSX, data), context=ExtractionContext())
    assert (order.po_number.value, order.order_date.value, order.currency.value) == ("PO-99001", date(2026, 11, 30), "EUR")
    assert order.po_number.provenance.rule == "xlsx:Bestellung!A2"
    assert (order.delivery_date.value, order.notes.value) == (date(2026, 12, 12), "Ring the bell")
