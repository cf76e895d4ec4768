"""The PDF extractor: golden files (dev corpus and generated layouts), unreadable files, the shared row logic."""

from __future__ import annotations

import csv
import email
import json
import os
import time
from datetime import date
from decimal import Decimal
from email import policy
from pathlib import Path
from typing import Any

import pytest

from bot.model import Document, Order, ReasonCode
from extractors.context import ExtractionContext
from extractors.lines import (
    Cell,
    Role,
    build_line,
    check_against_total,
    header_role,
    parse_address,
    parse_number_cell,
    po_number_from_filename,
    split_quantity,
    unit_price_from_total,
)
from extractors.pdf import orders_from_pdf
from tests import pdf_factory

CORPUS = Path(os.environ.get("ORDERBOT_CORPUS", Path(__file__).parents[2] / "shared" / "corpus"))
needs_corpus = pytest.mark.skipif(
    not (CORPUS / "labels").is_dir(), reason=f"no labelled corpus at {CORPUS} (set ORDERBOT_CORPUS)"
)

# Locale conventions as the pipeline derives them from the customer's country.
_MONTH_FIRST = {"US"}
_DECIMAL_POINT = {"US", "GB", "CN"}


# --- helpers -----------------------------------------------------------------------


def pdf_doc(name: str, data: bytes) -> Document:
    return Document(name, "application/pdf", data)


def corpus_attachment(message: str, filename: str) -> tuple[Document, dict[str, Any], ExtractionContext]:
    """An attachment of a corpus message, the label of its order and the pipeline's context."""
    msg = email.message_from_binary_file((CORPUS / "messages" / f"{message}.eml").open("rb"), policy=policy.default)
    part = next(p for p in msg.iter_attachments() if p.get_filename() == filename)
    label = json.loads((CORPUS / "labels" / f"{message}.json").read_text(encoding="utf-8"))
    countries = {}
    with (CORPUS / "masterdata" / "addresses.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            countries.setdefault(row["customer_id"], row["country"])
    orders = label["orders"]
    country = countries.get(orders[0]["customer_id"]) if orders else None
    context = ExtractionContext(
        reference_date=msg["Date"].datetime.date(),
        day_first=None if country is None else country not in _MONTH_FIRST,
        decimal_comma=None if country is None else country not in _DECIMAL_POINT,
        country=country,
    )
    return Document(filename, part.get_content_type(), part.get_payload(decode=True)), label, context


def mismatches(order: Order, expected: dict[str, Any]) -> list[str]:
    """Every field of ``expected`` the order gets wrong (labels and golden files share this shape)."""
    problems: list[str] = []

    def check(name: str, got: Any, want: Any) -> None:
        if isinstance(got, date):
            got = got.isoformat()
        if isinstance(got, Decimal) or (isinstance(want, str) and name.endswith(("quantity", "unit_price", "total"))):
            same = got is not None and want is not None and Decimal(got) == Decimal(want)
            same = same or (got is None and want is None)
        elif isinstance(got, str) and isinstance(want, str):
            same = " ".join(got.split()).lower() == " ".join(want.split()).lower()
        else:
            same = got == want
        if not same:
            problems.append(f"{name}: got {got!r}, want {want!r}")

    for name in ("po_number", "order_date", "delivery_date", "currency", "notes", "customer_name"):
        if name in expected:
            check(name, getattr(order, name).value, expected[name])
    if "urgent" in expected:
        check("urgent", bool(order.urgent.value), bool(expected["urgent"]))
    if "document_total" in expected:
        check("document_total", order.document_total.value, expected["document_total"])
    if "ship_to" in expected:
        address = order.ship_to.value
        for key in ("name", "street", "postal_code", "city", "country"):
            want = expected["ship_to"][key] if expected["ship_to"] else None
            check(f"ship_to.{key}", getattr(address, key) if address else None, want)
    lines = expected.get("lines", [])
    check("len(lines)", len(order.lines), len(lines))
    for i, (line, want) in enumerate(zip(order.lines, lines, strict=False)):
        check(f"lines[{i}].quantity", line.quantity.value, want["quantity"])
        check(f"lines[{i}].uom", line.uom.value, want["uom"])
        check(f"lines[{i}].unit_price", line.unit_price.value, want["unit_price"])
        codes = [c.lower() for c in line.codes]
        wanted_codes = want.get("codes") or [c for c in (want.get("customer_sku") or want.get("sku"),) if c]
        for code in wanted_codes:
            if code.lower() not in codes:
                problems.append(f"lines[{i}].codes: {line.codes!r} lacks {code!r}")
        if "codes" in want:  # golden files say exactly which column is the customer's
            check(f"lines[{i}].customer_sku", line.customer_sku.value, want["customer_sku"])
    return problems


# --- the dev corpus: one PDF of each layout family, and a two-page one -----------------------

CORPUS_GOLDEN = [
    ("0002", "PurchaseOrder_VDB26-01074_20261031.pdf"),  # family 1: classic ruled grid, English
    ("0004", "PO-DG-91481.PDF"),  # family 1 over two pages, 33 lines
    ("0025", "BE_4510060699_20261109.pdf"),  # family 2: German DIN letter, whitespace columns
    ("0045", "BE_AW26-7308_20261120.pdf"),  # family 2 with EILBESTELLUNG
    ("0010", "Commande CMD-26-1886.pdf"),  # family 3: French boxed header, shaded table
    ("0003", "Purchase Order 7442425.pdf"),  # family 4: US grid form, quantity first, month/day
    ("0029", "039923.pdf"),  # family 4 with notes under their caption
    ("0017", "PO-KH306516.pdf"),  # family 5: UK monospace ERP print, line totals only
    ("0020", "PO-79780.pdf"),  # family 5, urgent, delivery instructions
    ("0001", "POCG02336708.pdf"),  # family 6: Chinese/English bilingual grid
]


@needs_corpus
@pytest.mark.parametrize(("message", "filename"), CORPUS_GOLDEN, ids=[f"{m}-{f}" for m, f in CORPUS_GOLDEN])
def test_corpus_pdf_matches_its_label(message: str, filename: str) -> None:
    """Given a corpus PDF and the context the pipeline would build for its sender,
    when it is extracted, then every labelled field and line equals the label."""
    doc, label, context = corpus_attachment(message, filename)
    orders = orders_from_pdf(doc, context=context)
    assert len(orders) == 1
    expected = next(o for o in label["orders"] if o["po_number"] == orders[0].po_number.value)
    assert mismatches(orders[0], expected) == []


@needs_corpus
@pytest.mark.parametrize(
    ("message", "filename"), [("0002", "Terms_and_Conditions.pdf"), ("0010", "CGA.pdf"), ("0038", "Remittance_20261126.pdf")]
)
def test_corpus_pdf_that_is_no_order_gives_none(message: str, filename: str) -> None:
    doc, _, context = corpus_attachment(message, filename)
    assert orders_from_pdf(doc, context=context) == ()


@needs_corpus
def test_corpus_scan_is_unreadable() -> None:
    doc, _, context = corpus_attachment("0059", "KM_C308-20261126484125.pdf")
    (order,) = orders_from_pdf(doc, context=context)
    assert order.reason_codes == (ReasonCode.UNREADABLE_DOCUMENT,)
    assert "KM_C308-20261126484125.pdf" in order.reasons[0].message
    assert order.po_number.value is None  # a scanner's time stamp is no PO number


@needs_corpus
@pytest.mark.slow
def test_all_corpus_pdfs_are_read_accurately_and_fast() -> None:
    """Over every PDF attachment of the dev corpus: each labelled field right in
    at least 97 % of orders, and well under a second per page."""
    wrong: list[str] = []
    orders_checked = 0
    elapsed = 0.0
    for path in sorted((CORPUS / "messages").glob("*.eml")):
        message = path.stem
        label = json.loads((CORPUS / "labels" / f"{message}.json").read_text(encoding="utf-8"))
        if label["kind"] != "order":
            continue
        msg = email.message_from_binary_file(path.open("rb"), policy=policy.default)
        for part in msg.iter_attachments():
            name = part.get_filename()
            if not name.lower().endswith(".pdf"):
                continue
            doc, label, context = corpus_attachment(message, name)
            start = time.perf_counter()
            orders = orders_from_pdf(doc, context=context)
            elapsed += time.perf_counter() - start
            for order in orders:
                expected = next((o for o in label["orders"] if o["po_number"] == order.po_number.value), None)
                if expected is None:
                    wrong.append(f"{message}/{name}: PO {order.po_number.value!r} not in the label")
                    continue
                orders_checked += 1
                if "unreadable_document" in expected["reasons"]:
                    continue
                wrong.extend(f"{message}/{name}: {p}" for p in mismatches(order, expected))
    assert orders_checked >= 40
    assert len(wrong) <= 0.03 * orders_checked, "\n".join(wrong)
    assert elapsed / orders_checked < 1.0


# --- generated layouts ------------------------------------------------------------------------


@pytest.mark.parametrize("case", pdf_factory.golden_cases())
def test_generated_layout_matches_golden_file(case: str) -> None:
    """Given a PDF printed in a layout the corpus does not have (tests/golden/pdf),
    when it is extracted with no hints about the sender, then every field equals
    the golden file."""
    golden = pdf_factory.load_case(case)
    try:
        data = pdf_factory.render(golden)
    except pdf_factory.FontUnavailable as exc:
        pytest.skip(str(exc))
    (order,) = orders_from_pdf(pdf_doc(f"{case}.pdf", data), context=ExtractionContext())
    assert mismatches(order, golden["expected"]) == []


def test_values_carry_page_bbox_and_rule() -> None:
    golden = pdf_factory.load_case("en_two_page")
    (order,) = orders_from_pdf(pdf_doc("x.pdf", pdf_factory.render(golden)), context=ExtractionContext())
    po = order.po_number.provenance
    assert po is not None and po.source == "attachment:x.pdf" and po.page == 1 and po.rule.startswith("label:")
    x0, top, x1, bottom = po.bbox
    assert 0 < x0 < x1 and 0 < top < bottom < 200
    last = order.lines[-1]
    assert last.quantity.provenance.page == 2  # the table ran onto the second page
    assert 0.5 < order.po_number.confidence <= 1.0 and 0.5 < last.unit_price.confidence <= 1.0


# --- files that cannot be read ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "problem"),
    [
        ("PO-4711.pdf", pdf_factory.image_only_pdf, "no text layer"),
        ("PO_99812.pdf", pdf_factory.encrypted_pdf, "encrypted"),
        ("Order 5566.pdf", pdf_factory.not_a_pdf, "not a PDF"),
    ],
)
def test_unreadable_file_gives_one_order_for_review(name: str, make, problem: str) -> None:  # noqa: ANN001
    """Given a scan, an encrypted PDF or a file that only claims to be a PDF,
    when it is extracted, then it does not raise: one order carries an
    unreadable_document reason naming the file, and the PO number of its name."""
    (order,) = orders_from_pdf(pdf_doc(name, make()), context=ExtractionContext())
    assert order.reason_codes == (ReasonCode.UNREADABLE_DOCUMENT,)
    assert name in order.reasons[0].message and problem in order.reasons[0].message
    assert order.po_number.value == po_number_from_filename(name)
    assert order.po_number.confidence < 0.5
    assert order.lines == ()


def test_truncated_pdf_is_unreadable_not_an_exception() -> None:
    data = pdf_factory.render(pdf_factory.load_case("es_kv_right"))
    (order,) = orders_from_pdf(pdf_doc("cut.pdf", data[: len(data) // 3]), context=ExtractionContext())
    assert order.reason_codes == (ReasonCode.UNREADABLE_DOCUMENT,)


# --- the shared row logic ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24 pcs", (Decimal(24), "EA", "pcs")),
        ("4 Krt", (Decimal(4), "CS", "Krt")),
        ("12,5 kg", (Decimal("12.5"), "KGM", "kg")),
        ("2,000", (Decimal(2000), None, None)),
        ("3 Rollen", (Decimal(3), None, "Rollen")),
    ],
)
def test_quantity_and_unit_in_one_cell(text: str, expected: tuple) -> None:
    assert split_quantity(text, decimal_comma=None) == expected


@pytest.mark.parametrize(
    ("total", "quantity", "price"),
    [("156.75", "75", "2.09"), ("100.00", "250", "0.40"), ("49.20", "1200", "0.041"), ("10.00", "3", "3.333")],
)
def test_unit_price_from_line_total_is_as_short_as_the_total_allows(total: str, quantity: str, price: str) -> None:
    got, exact = unit_price_from_total(Decimal(total), Decimal(quantity))
    assert got == Decimal(price) and exact


def test_line_whose_amounts_disagree_loses_confidence() -> None:
    good = build_line(
        {Role.QUANTITY: Cell("4"), Role.UNIT_PRICE: Cell("2.50"), Role.LINE_TOTAL: Cell("10.00")}, decimal_comma=None
    )
    bad = build_line(
        {Role.QUANTITY: Cell("4"), Role.UNIT_PRICE: Cell("2.50"), Role.LINE_TOTAL: Cell("12.00")}, decimal_comma=None
    )
    assert good.quantity.confidence > 0.9 and bad.quantity.confidence < 0.6
    assert bad.unit_price.confidence < 0.6
    lines, matched = check_against_total([good], [Decimal("99.00")])
    assert matched is None and lines[0].unit_price.confidence < good.unit_price.confidence
    assert check_against_total([good], [Decimal("10.00")])[1] == Decimal("10.00")


def test_codes_put_the_customers_own_number_before_the_generic_column() -> None:
    line = build_line(
        {Role.SKU: Cell("AX-1"), Role.CUSTOMER_SKU: Cell("NW-9"), Role.QUANTITY: Cell("1")}, decimal_comma=None
    )
    assert line.codes == ("NW-9", "AX-1") and line.customer_sku.value == "NW-9"


@pytest.mark.parametrize(
    ("header", "role"),
    [
        ("单价 Unit Price", Role.UNIT_PRICE),
        ("Price (USD)", Role.UNIT_PRICE),
        ("P.U. HT", Role.UNIT_PRICE),
        ("Our Part No.", Role.CUSTOMER_SKU),
        ("Item No.", Role.SKU),
        ("Menge", Role.QUANTITY),
        ("Comments or special instructions for the driver", None),
    ],
)
def test_header_roles_come_from_the_vocabulary(header: str, role: Role | None) -> None:
    assert header_role(header) == role


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["ACME B.V. Magazijn", "Best", "De Waal 18", "5684 PH Best", "Netherlands"],
         ("ACME B.V. Magazijn Best", "De Waal 18", "5684 PH", "Best", "NL")),
        (["Pennine Ltd", "Dean Clough Mills", "Halifax HX3 5AX", "United Kingdom"],
         ("Pennine Ltd", "Dean Clough Mills", "HX3 5AX", "Halifax", "GB")),
        (["Summit - Plant 2", "1200 Industrial Way", "Longmont, CO 80501", "USA"],
         ("Summit - Plant 2", "1200 Industrial Way", "80501", "Longmont", "US")),
        (["Huaxin Co., Ltd.", "No. 66 Rongle East Road", "Shanghai 201613", "中国 China"],
         ("Huaxin Co., Ltd.", "No. 66 Rongle East Road", "201613", "Shanghai", "CN")),
        (["Nordwind GmbH", "Attn: Wareneingang", "Hafenstrasse 12, 20457 Hamburg"],
         ("Nordwind GmbH", "Hafenstrasse 12", "20457", "Hamburg", None)),
        (["ACME Corp", "1200 Commerce Blvd", "Suite 200", "Columbus, OH 43215"],
         ("ACME Corp", "1200 Commerce Blvd, Suite 200", "43215", "Columbus", None)),
        (["Rossi S.r.l. - Magazzino", "Via Roma 120", "20096 Pioltello (MI)", "Italia"],
         ("Rossi S.r.l. - Magazzino", "Via Roma 120", "20096", "Pioltello", "IT")),
        (["Wisła Sp. z o.o.", "ul. Energetyków 9", "32-050 Skawina", "Polska"],
         ("Wisła Sp. z o.o.", "ul. Energetyków 9", "32-050", "Skawina", "PL")),
    ],
)
def test_address_blocks_split_into_fields(lines: list[str], expected: tuple) -> None:
    address = parse_address(lines)
    assert (address.name, address.street, address.postal_code, address.city, address.country) == expected


@pytest.mark.parametrize(
    ("name", "po"),
    [
        ("PO-4500012345.pdf", "4500012345"),
        ("POCG02336708.pdf", "CG02336708"),
        ("PurchaseOrder_VDB26-01074_20261031.pdf", "VDB26-01074"),
        ("BE_4510060699_20261109.pdf", "4510060699"),
        ("Terms_and_Conditions.pdf", None),
        ("KM_C308-20261126484125.pdf", None),
        ("Remittance_20261126.pdf", None),
    ],
)
def test_po_number_from_file_name(name: str, po: str | None) -> None:
    assert po_number_from_filename(name) == po


def test_excel_floats_become_the_decimal_they_show() -> None:
    assert str(parse_number_cell(5.9, decimal_comma=True)) == "5.9"
    assert str(parse_number_cell(0.1 + 0.2, decimal_comma=None)) == "0.3"
    assert str(parse_number_cell(74.0, decimal_comma=None)) == "74"
    assert parse_number_cell(0.125, decimal_comma=True) == Decimal("0.125")


@pytest.mark.parametrize("seed", range(40))
def test_randomised_layout(seed: int) -> None:
    """Given a PO drawn at random from languages, header/address/table styles,
    number and date formats (tests/pdf_factory.random_case), when it is
    extracted with no hints about the sender, then every field and line is
    read back. Failures print what was drawn."""
    drawn, data, expected = pdf_factory.random_case(seed)
    orders = orders_from_pdf(pdf_doc(f"random-{seed}.pdf", data), context=ExtractionContext())
    assert len(orders) == 1, drawn
    assert mismatches(orders[0], expected) == [], drawn


def test_two_orders_printed_into_one_file_give_two_orders() -> None:
    """Given a batch print (two POs, one per page), when it is extracted, then
    each PO is its own order with its own lines."""
    first, second = orders_from_pdf(pdf_doc("batch.pdf", pdf_factory.two_orders_in_one_file()), context=ExtractionContext())
    assert (first.po_number.value, len(first.lines), first.urgent.value) == ("4500871123", 4, True)
    assert (second.po_number.value, len(second.lines), second.urgent.value) == ("4500871999", 1, False)
    assert second.lines[0].codes == ("HW-777-01",) and second.lines[0].quantity.provenance.page == 2


@pytest.mark.parametrize(
    ("title", "po"),
    [
        ("Order #4711-B", "4711-B"),
        ("PO#88213", "88213"),
        ("PURCHASE ORDER 4500012345", "4500012345"),
        ("Bestellung Nr. 4500012345", "4500012345"),
        ("PURCHASE ORDER", None),  # a title without a number names no PO
    ],
)
def test_po_number_printed_in_the_title(title: str, po: str | None) -> None:
    sheet = pdf_factory.Sheet()
    sheet.text(40, 40, title, size=16, bold=True)
    sheet.text(40, 64, "4100 Lakeside Ave E", size=9)  # an address under the title is no PO number
    sheet.text(40, 90, "Date: 03.12.2026", size=9)
    orders = orders_from_pdf(pdf_doc("scan.pdf", sheet.bytes()), context=ExtractionContext())
    assert (orders[0].po_number.value if orders else None) == po
