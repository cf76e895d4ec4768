"""Structured orders: UBL 2.1 and Order-X XML, hostile XML, and hybrid PDFs whose attached XML wins.

Golden files: ``tests/golden/structured/NAME.xml`` (hand-written) next to
``NAME.json`` (the expected orders, every field, checked by hand against the XML).
"""

from __future__ import annotations

import json
import re
import socket
import time
import zlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from bot.model import Address, Document, Field, MessageKind, Order, RawMessage, ReasonCode
from bot.processing import parse
from extractors.context import ExtractionContext
from extractors.dispatch import EXTRACTORS, extract_message
from extractors.embedded import MAX_EMBEDDED_BYTES, embedded_files
from extractors.pdf import orders_from_pdf
from extractors.structured import CONFIDENCE, MAX_DEPTH, MAX_XML_BYTES, orders_from_xml, unit_of
from tests.pdf_factory import Sheet

GOLDEN = Path(__file__).parent / "golden" / "structured"
CASES = sorted(p.stem for p in GOLDEN.glob("*.xml"))
CONTEXT = ExtractionContext(reference_date=date(2026, 11, 20), day_first=True, decimal_comma=False, country="FR")


# --- helpers -----------------------------------------------------------------------


def xml_doc(name: str, data: bytes) -> Document:
    return Document(name, "application/xml", data)


def golden_orders(name: str) -> tuple[Order, ...]:
    return orders_from_xml(xml_doc(f"{name}.xml", (GOLDEN / f"{name}.xml").read_bytes()), context=CONTEXT)


def plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Address):
        return {k: getattr(value, k) for k in ("name", "street", "postal_code", "city", "country")}
    return value


def as_dict(order: Order) -> dict[str, Any]:
    """Every field of an order, its lines, reasons, confidences and provenance rules."""
    fields: dict[str, Field] = {
        name: getattr(order, name)
        for name in ("po_number", "customer_name", "order_date", "delivery_date", "currency", "ship_to", "urgent", "notes", "document_total")
    }
    lines = []
    for i, line in enumerate(order.lines, 1):
        entry: dict[str, Any] = {"codes": list(line.codes), "quantity_text": line.quantity_text, "text": line.text}
        for name in ("sku", "customer_sku", "description", "quantity", "uom", "unit_price", "line_total"):
            entry[name] = plain(getattr(line, name).value)
            fields[f"lines[{i}].{name}"] = getattr(line, name)
        lines.append(entry)
    return {
        "source": order.source,
        **{name: plain(getattr(order, name).value) for name in ("po_number", "customer_name", "order_date", "delivery_date", "currency", "ship_to", "urgent", "notes", "document_total")},
        "lines": lines,
        "reasons": [{"code": str(r.code), "message": r.message, "field": r.field, "found": r.found} for r in order.reasons],
        "confidence": {name: f.confidence for name, f in fields.items() if f.present},
        "provenance": {name: f.provenance.rule for name, f in fields.items() if f.present and f.provenance},
    }


# --- golden files ---------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_golden_xml_gives_its_expected_orders(name: str) -> None:
    """Given a hand-written XML file and its expected JSON, when it is extracted,
    then every order, field, line, reason, confidence and provenance rule equals the JSON."""
    expected = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    assert [as_dict(o) for o in golden_orders(name)] == expected["orders"]


ORDER_VARIANTS = ("ubl_minimal", "ubl_full", "ubl_base_quantity_allowances", "ubl_lenient_rush", "orderx_comfort", "orderx_period_basis")


def test_every_golden_xml_has_its_expected_json() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == CASES
    assert set(ORDER_VARIANTS) <= set(CASES)


@pytest.mark.parametrize("name", ORDER_VARIANTS)
def test_values_read_from_an_order_xml_are_sure_and_point_into_it(name: str) -> None:
    """Every value taken from the XML says so: its source is the file and its rule an
    XPath-like pointer; confidence is 0.98 except the documented softer readings."""
    (order,) = golden_orders(name)
    softer = {"urgent": (0.9,), "currency": (0.95,)}
    scheme = "ubl:" if name.startswith("ubl_") else "cio:"
    for key, f in as_fields(order).items():
        assert f.provenance is not None and f.provenance.source == f"attachment:{name}.xml", key
        assert f.provenance.rule and f.provenance.rule.startswith(scheme), key
        assert f.confidence == CONFIDENCE or f.confidence in softer.get(key, ()), key


def as_fields(order: Order) -> dict[str, Field]:
    fields = {n: getattr(order, n) for n in ("po_number", "customer_name", "order_date", "delivery_date", "currency", "ship_to", "urgent", "notes", "document_total")}
    for i, line in enumerate(order.lines, 1):
        fields.update({f"lines[{i}].{n}": getattr(line, n) for n in ("customer_sku", "description", "quantity", "uom", "unit_price", "line_total")})
    return {k: f for k, f in fields.items() if f.present}


@pytest.mark.parametrize(("code", "uom"), [("C62", "EA"), ("EA", "EA"), ("H87", "EA"), ("BX", "BX"), ("CS", "CS"), ("CT", "CS"), ("KGM", "KGM"), ("MTR", "MTR"), ("XBX", "BX"), ("kgm", "KGM"), ("PR", "PR"), ("LTR", "LTR"), (None, None)])
def test_rec20_unit_codes_map_to_product_units_and_others_stay(code: str | None, uom: str | None) -> None:
    assert unit_of(code) == uom


# --- hostile and broken XML ------------------------------------------------------------------


def unreadable(orders: tuple[Order, ...]) -> Order:
    (order,) = orders
    assert order.reason_codes == (ReasonCode.UNREADABLE_DOCUMENT,)
    return order


def test_external_entity_payload_never_reads_a_local_file(tmp_path: Path) -> None:
    """Given an order whose PO number is an external entity pointing at a local secret file,
    when extracted, then the DTD is refused, the order goes to review, and the secret appears nowhere."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7731", encoding="utf-8")
    payload = (GOLDEN / "xxe_file.xml").read_text(encoding="utf-8").replace("file:///etc/passwd", secret.as_uri())
    order = unreadable(orders_from_xml(xml_doc("PO-4711.xml", payload.encode()), context=CONTEXT))
    assert "TOP-SECRET-7731" not in repr(order)
    assert order.reasons[0].message.startswith("PO-4711.xml: declares a DTD")
    assert order.po_number.value == "4711" and order.po_number.confidence == 0.4  # the file name's guess only


def test_golden_xxe_payloads_do_not_leak_etc_passwd() -> None:
    for name in ("xxe_file", "xxe_parameter_entity"):
        order = unreadable(golden_orders(name))
        assert "root:" not in repr(order)


class _Listener:
    """A TCP port that records whether anyone connected (an external DTD fetch would)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def contacted(self) -> bool:
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE Order SYSTEM "http://127.0.0.1:{port}/order.dtd">',
        '<!DOCTYPE Order PUBLIC "-//X//Y//EN" "http://127.0.0.1:{port}/order.dtd">',
        '<!DOCTYPE Order [<!ENTITY % ext SYSTEM "http://127.0.0.1:{port}/x.dtd"> %ext;]>',
        '<!DOCTYPE Order [<!ENTITY ext SYSTEM "http://127.0.0.1:{port}/x.txt">]>',
    ],
    ids=["system-dtd", "public-dtd", "parameter-entity", "general-entity"],
)
def test_no_dtd_or_entity_is_ever_fetched(doctype: str) -> None:
    """Given an order with a DOCTYPE pointing at a server we run, when extracted,
    then nobody connected to it and the order is unreadable (for a person), not read."""
    listener = _Listener()
    try:
        body = (GOLDEN / "ubl_minimal.xml").read_text(encoding="utf-8").split("\n", 2)[2]
        payload = '<?xml version="1.0"?>\n' + doctype.format(port=listener.port) + "\n" + body.replace("PO-31207", "&ext;" if "ENTITY ext" in doctype else "PO-31207")
        order = unreadable(orders_from_xml(xml_doc("order.xml", payload.encode()), context=CONTEXT))
        assert "DTD" in order.reasons[0].message
        time.sleep(0.05)
        assert not listener.contacted()
    finally:
        listener.sock.close()


def test_billion_laughs_is_refused_at_once() -> None:
    """Given the classic entity-expansion bomb (10^9 'lol's), when extracted, then it is
    refused before any entity is declared: an unreadable order, in well under a second."""
    data = (GOLDEN / "billion_laughs.xml").read_bytes()
    start = time.perf_counter()
    order = unreadable(orders_from_xml(xml_doc("billion_laughs.xml", data), context=CONTEXT))
    assert time.perf_counter() - start < 0.2
    assert "entity expansion" in order.reasons[0].message


def test_quadratic_blowup_without_doctype_is_just_malformed() -> None:
    """An entity reference without any DTD is no expansion: expat rejects it as undefined."""
    data = b'<?xml version="1.0"?><Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"><ID>&a;</ID></Order>'
    order = unreadable(orders_from_xml(xml_doc("o.xml", data), context=CONTEXT))
    assert "undefined entity" in order.reasons[0].message


def test_oversized_xml_is_refused_unparsed() -> None:
    data = (GOLDEN / "ubl_minimal.xml").read_bytes().replace(b"</Order>", b"<!--" + b" " * MAX_XML_BYTES + b"--></Order>")
    start = time.perf_counter()
    order = unreadable(orders_from_xml(xml_doc("big.xml", data), context=CONTEXT))
    assert time.perf_counter() - start < 1.0
    assert "MiB limit" in order.reasons[0].message


def test_absurdly_deep_nesting_is_refused() -> None:
    data = b'<?xml version="1.0"?><Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2">' + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</Order>"
    order = unreadable(orders_from_xml(xml_doc("deep.xml", data), context=CONTEXT))
    assert f"deeper than {MAX_DEPTH}" in order.reasons[0].message


@pytest.mark.parametrize(
    ("data", "expect_order"),
    [
        (b'<?xml version="1.0"?>', True),  # no element at all: cannot tell, a person looks
        (b'<?xml version="1.0"?>\n<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"><ID>1</ID>', True),
        (b'<?xml version="1.0"?>\n<DespatchAdvice xmlns="urn:oasis:names:specification:ubl:schema:xsd:DespatchAdvice-2"><ID>1</ID>', False),
        (b'<?xml version="1.0"?>\n<rsm:SCRDMCCBDACIOMessageStructure xmlns:rsm="urn:un:unece:uncefact:data:SCRDMCCBDACIOMessageStructure:100">', True),
    ],
    ids=["empty", "truncated-order", "truncated-despatch-advice", "truncated-order-x"],
)
def test_broken_xml_goes_to_review_unless_it_shows_it_is_no_order(data: bytes, expect_order: bool) -> None:
    orders = orders_from_xml(xml_doc("x.xml", data), context=CONTEXT)
    if expect_order:
        assert unreadable(orders).reasons[0].message.startswith("x.xml: ")
    else:
        assert orders == ()


def test_utf16_order_is_read() -> None:
    text = (GOLDEN / "ubl_minimal.xml").read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    (order,) = orders_from_xml(xml_doc("o.xml", text.encode("utf-16")), context=CONTEXT)
    assert order.po_number.value == "PO-31207" and order.lines[0].quantity.value == 40


def test_order_root_without_its_namespace_is_read_when_its_children_are_ubl() -> None:
    """Lenient: an ERP that forgot the default namespace on <Order> but uses cbc:/cac: below."""
    text = (GOLDEN / "ubl_minimal.xml").read_text(encoding="utf-8").replace('xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"', "")
    (order,) = orders_from_xml(xml_doc("o.xml", text.encode()), context=CONTEXT)
    assert order.po_number.value == "PO-31207" and not order.reasons


def test_a_bad_value_is_reported_not_guessed() -> None:
    """Given quantities and dates that are no XML values, then the quantity is kept as
    text (ambiguous for the rules) and the date is missing with a reason, never guessed."""
    text = (GOLDEN / "ubl_full.xml").read_text(encoding="utf-8")
    text = text.replace(">24</cbc:Quantity>", ">24 Stk</cbc:Quantity>").replace("<cbc:EndDate>2026-12-01<", "<cbc:EndDate>01.12.2026<")
    (order,) = orders_from_xml(xml_doc("o.xml", text.encode()), context=CONTEXT)
    assert order.lines[0].quantity.value is None and order.lines[0].quantity_text == "24 Stk"
    assert order.delivery_date.value is None
    assert [(r.code, r.field) for r in order.reasons] == [(ReasonCode.LOW_CONFIDENCE, "delivery_date")]
    # the stated line totals still add up to the document total, which is kept
    assert order.document_total.value == Decimal("363.10")



def test_line_totals_that_do_not_add_up_lower_the_lines_as_for_pdfs() -> None:
    """Given an order whose line totals do not sum to its stated total, then the stated total
    is not taken and quantities and prices lose confidence (0.98 x 0.8), as the PDF reader does."""
    text = (GOLDEN / "ubl_full.xml").read_text(encoding="utf-8").replace(">81.60<", ">91.60<")
    (order,) = orders_from_xml(xml_doc("o.xml", text.encode()), context=CONTEXT)
    assert order.document_total.value is None
    assert [line.quantity.confidence for line in order.lines] == pytest.approx([0.784] * 3)
    assert [line.unit_price.confidence for line in order.lines] == pytest.approx([0.784] * 3)


def test_lines_asking_for_different_days_without_a_header_date_go_to_review() -> None:
    """Given no header delivery date and lines asking for different days, then no date is
    claimed and a reason says why (a split delivery is for a person to key)."""
    text = (GOLDEN / "ubl_lenient_rush.xml").read_bytes().replace(b"2026-11-27", b"2026-12-04", 1)
    (order,) = orders_from_xml(xml_doc("o.xml", text), context=CONTEXT)
    assert order.delivery_date.value is None
    assert ("delivery_date", "the order states no delivery date and its lines state 2 different ones or leave some out") in [(r.field, r.message) for r in order.reasons]

# --- hybrid PDFs ------------------------------------------------------------------------


def printed_order_x_pdf(delivery: str = "10.12.2026") -> bytes:
    """The printed side of the Order-X golden order, with the delivery date it prints."""
    s = Sheet()
    s.text(50, 40, "PURCHASE ORDER", size=16, bold=True)
    s.text(50, 70, "Maréchal Logistique SAS", bold=True)
    s.text(50, 82, "18 rue de Gerland, 69007 Lyon, France")
    for i, (label, value) in enumerate((("PO Number:", "CMD-26-2207"), ("Order Date:", "19.11.2026"), ("Delivery Date:", delivery))):
        s.text(330, 70 + 12 * i, label)
        s.text(430, 70 + 12 * i, value)
    s.text(50, 120, "Ship To:", bold=True)
    for i, line in enumerate(("Maréchal Logistique - Entrepôt Vénissieux", "4 avenue de la Division Leclerc", "69200 Vénissieux", "France")):
        s.text(50, 132 + 12 * i, line)
    cols = (50, 130, 360, 400, 440, 510)
    for x, head in zip(cols, ("Item", "Description", "Qty", "Unit", "Unit Price", "Total"), strict=True):
        s.text(x, 200, head, bold=True)
    s.hline(50, 560, 212)
    rows = (("AX-2291", "Film etirable 500 mm", "48", "EA", "3.40", "163.20"), ("AX-1740", "Gants nitrile taille L", "10", "BX", "45.90", "459.00"))
    for r, row in enumerate(rows):
        for x, value in zip(cols, row, strict=True):
            s.text(x, 218 + 14 * r, value)
    s.text(440, 260, "Total EUR")
    s.text(510, 260, "622.20")
    return s.bytes()


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes
    compressed: bool = True


def attach(pdf: bytes, *files: Attachment, name_tree: bool = True, af: bool = True, annotation: bool = False) -> bytes:
    """``pdf`` with ``files`` embedded by an incremental update, as Order-X / Factur-X
    writers do: EmbeddedFile streams, file specifications with /AFRelationship,
    listed in the /EmbeddedFiles name tree and/or the catalog's /AF array and/or a
    /FileAttachment annotation on the first page. (reportlab cannot embed files.)"""
    trailer = pdf[pdf.rindex(b"trailer") :]
    root = int(re.search(rb"/Root (\d+) 0 R", trailer).group(1))  # type: ignore[union-attr]
    size = int(re.search(rb"/Size (\d+)", trailer).group(1))  # type: ignore[union-attr]
    info = re.search(rb"/Info (\d+) 0 R", trailer)
    prev = int(re.search(rb"startxref\s+(\d+)", pdf[-64:]).group(1))  # type: ignore[union-attr]

    def body_of(num: int) -> bytes:
        return re.search(rb"\n%d 0 obj\s*<<(.*?)>>\s*endobj" % num, pdf, re.S).group(1)  # type: ignore[union-attr]

    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    offsets: dict[int, int] = {}

    def obj(num: int, body: bytes) -> None:
        offsets[num] = len(out)
        out.extend(b"%d 0 obj\n" % num + body + b"\nendobj\n")

    specs: list[tuple[bytes, int]] = []
    n = size
    for f in files:
        name = f.name.encode("latin-1")
        packed = zlib.compress(f.data) if f.compressed else f.data
        flate = b" /Filter /FlateDecode" if f.compressed else b""
        obj(n, b"<< /Type /EmbeddedFile /Subtype /text#2Fxml%s /Length %d /Params << /Size %d >> >>\nstream\n" % (flate, len(packed), len(f.data)) + packed + b"\nendstream")
        obj(n + 1, b"<< /Type /Filespec /F (%s) /UF (%s) /EF << /F %d 0 R /UF %d 0 R >> /AFRelationship /Alternative >>" % (name, name, n, n))
        specs.append((name, n + 1))
        n += 2
    extra = b""
    if name_tree:
        obj(n, b"<< /Names [" + b" ".join(b"(%s) %d 0 R" % s for s in specs) + b"] >>")
        extra += b" /Names << /EmbeddedFiles %d 0 R >>" % n
        n += 1
    if af:
        extra += b" /AF [" + b" ".join(b"%d 0 R" % s for _, s in specs) + b"]"
    obj(root, b"<<" + body_of(root) + extra + b" >>")
    if annotation:
        page = _page_number(pdf)
        annots = b" ".join(b"%d 0 R" % (n + i) for i in range(len(specs)))
        for i, (_, spec) in enumerate(specs):
            obj(n + i, b"<< /Type /Annot /Subtype /FileAttachment /Rect [10 10 30 30] /FS %d 0 R >>" % spec)
        n += len(specs)
        obj(page, b"<<" + body_of(page) + b" /Annots [" + annots + b"] >>")
    xref_at = len(out)
    out.extend(b"xref\n")
    for num in sorted(offsets):
        out.extend(b"%d 1\n%010d 00000 n \n" % (num, offsets[num]))
    info_ref = b" /Info %s 0 R" % info.group(1) if info else b""
    out.extend(b"trailer\n<< /Size %d /Root %d 0 R%s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (n, root, info_ref, prev, xref_at))
    return bytes(out)


def _page_number(pdf: bytes) -> int:
    """The object number of the first page."""
    for match in re.finditer(rb"\n(\d+) 0 obj\s*<<(.*?)>>\s*endobj", pdf, re.S):
        if re.search(rb"/Type /Page(?!s)\b", match.group(2)):
            return int(match.group(1))
    raise AssertionError("no page object")


ORDER_X = (GOLDEN / "orderx_comfort.xml").read_bytes()


def pdf_orders(data: bytes, name: str = "PO-CMD-26-2207.pdf") -> tuple[Order, ...]:
    """What dispatch does with a PDF attachment."""
    return EXTRACTORS["application/pdf"](Document(name, "application/pdf", data), context=CONTEXT)


@pytest.mark.parametrize(
    "placement",
    [dict(name_tree=True, af=True), dict(name_tree=True, af=False), dict(name_tree=False, af=True), dict(name_tree=False, af=False, annotation=True)],
    ids=["names-and-af", "names-only", "af-only", "annotation-only"],
)
def test_hybrid_pdf_the_embedded_order_x_wins_over_the_printed_text(placement: dict[str, bool]) -> None:
    """Given a PDF that prints delivery 10.12.2026 and embeds an Order-X saying 2026-12-03,
    when dispatch reads it, then the order is the XML's (every field) and its source names both files."""
    pdf = attach(printed_order_x_pdf(), Attachment("order-x.xml", ORDER_X), **placement)
    (printed,) = orders_from_pdf(Document("PO-CMD-26-2207.pdf", "application/pdf", pdf), context=CONTEXT)
    assert printed.delivery_date.value == date(2026, 12, 10)  # the printed text really disagrees

    (order,) = pdf_orders(pdf)
    assert order.delivery_date.value == date(2026, 12, 3)
    expected = json.loads((GOLDEN / "orderx_comfort.json").read_text(encoding="utf-8"))["orders"][0]
    source = "attachment:PO-CMD-26-2207.pdf#order-x.xml"
    assert as_dict(order) == {**expected, "source": source}
    assert {f.provenance.source for f in as_fields(order).values()} == {source}


def test_hybrid_pdf_with_one_file_in_both_places_gives_one_order() -> None:
    (found,) = embedded_files(attach(printed_order_x_pdf(), Attachment("order-x.xml", ORDER_X), name_tree=True, af=True, annotation=True))
    assert (found.name, found.mime, found.relationship, found.problem, found.data) == ("order-x.xml", "text/xml", "Alternative", None, ORDER_X)


def test_hybrid_pdf_with_an_uncompressed_attachment() -> None:
    (order,) = pdf_orders(attach(printed_order_x_pdf(), Attachment("ORDER-X.XML", ORDER_X, compressed=False)))
    assert order.source == "attachment:PO-CMD-26-2207.pdf#ORDER-X.XML" and order.delivery_date.value == date(2026, 12, 3)


def test_hybrid_pdf_with_a_broken_order_xml_reads_the_print_and_goes_to_review() -> None:
    """Given a hybrid PDF whose attached order XML is not well-formed, when read, then the
    printed order is returned carrying an unreadable_document reason naming the XML: never silently."""
    broken = ORDER_X.replace(b"</rsm:ExchangedDocument>", b"</rsm:ExchangedDoc>")
    (order,) = pdf_orders(attach(printed_order_x_pdf(), Attachment("order-x.xml", broken)))
    assert order.source == "attachment:PO-CMD-26-2207.pdf"
    assert order.delivery_date.value == date(2026, 12, 10)
    assert order.reason_codes == (ReasonCode.UNREADABLE_DOCUMENT,)
    assert order.reasons[0].message == "PO-CMD-26-2207.pdf#order-x.xml: is not well-formed XML (line 24, column 5: mismatched tag)"


def test_hybrid_pdf_with_a_decompression_bomb_is_refused_quickly() -> None:
    bomb = b"<?xml version='1.0'?><rsm:SCRDMCCBDACIOMessageStructure>" + b" " * (MAX_EMBEDDED_BYTES + 1024)
    start = time.perf_counter()
    (order,) = pdf_orders(attach(printed_order_x_pdf(), Attachment("order-x.xml", bomb)))
    assert time.perf_counter() - start < 5
    assert order.reason_codes == (ReasonCode.UNREADABLE_DOCUMENT,)
    assert "MiB limit for an embedded file" in order.reasons[0].message


def test_hybrid_invoice_pdf_attachment_is_ignored() -> None:
    """A Factur-X invoice XML attached to a PDF is no order: the printed text is read as before."""
    pdf = attach(printed_order_x_pdf(), Attachment("factur-x.xml", (GOLDEN / "facturx_invoice.xml").read_bytes()))
    (order,) = pdf_orders(pdf)
    assert order.source == "attachment:PO-CMD-26-2207.pdf" and not order.reasons
    assert order.delivery_date.value == date(2026, 12, 10)


def test_pdf_without_attachments_reads_as_before() -> None:
    data = printed_order_x_pdf()
    assert embedded_files(data) == ()
    doc = Document("PO-CMD-26-2207.pdf", "application/pdf", data)
    assert pdf_orders(data) == orders_from_pdf(doc, context=CONTEXT)


@pytest.mark.parametrize("data", [b"", b"not a pdf", b"%PDF-1.4\n%broken beyond repair", printed_order_x_pdf()[:300]])
def test_embedded_files_of_unreadable_pdfs_is_empty(data: bytes) -> None:
    assert embedded_files(data) == ()


# --- through dispatch -----------------------------------------------------------------------


def message_with(*attachments: tuple[str, str, bytes], body: str = "Please find our order attached.\n") -> RawMessage:
    message = EmailMessage()
    message["From"] = "Claire Dubois <achats@marechal-logistique.fr>"
    message["To"] = "orders@kestrel-supply.example"
    message["Subject"] = "Commande"
    message["Date"] = "Fri, 20 Nov 2026 09:00:00 +0100"
    message["Message-ID"] = "<structured-test@marechal-logistique.fr>"
    message.set_content(body)
    for name, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return RawMessage(data=message.as_bytes(), origin="test", name="test.eml")


@pytest.mark.parametrize("declared", ["application/xml", "text/xml", "application/octet-stream"])
def test_email_with_an_order_xml_attachment_is_an_order(declared: str) -> None:
    """Given an email with a UBL order attached (whatever type the mailer declared), when
    extracted, then the message is an order and the order is the XML's."""
    raw = message_with(("PO-4500012345.xml", declared, (GOLDEN / "ubl_full.xml").read_bytes()))
    extraction = extract_message(parse(raw), CONTEXT)
    assert extraction.kind is MessageKind.ORDER
    (order,) = extraction.orders
    assert order.source == "attachment:PO-4500012345.xml"
    expected = json.loads((GOLDEN / "ubl_full.json").read_text(encoding="utf-8"))["orders"][0]
    assert as_dict(order) == {**expected, "source": "attachment:PO-4500012345.xml"}


def test_email_with_a_hybrid_pdf_gives_the_xml_order() -> None:
    pdf = attach(printed_order_x_pdf(), Attachment("order-x.xml", ORDER_X))
    extraction = extract_message(parse(message_with(("PO-CMD-26-2207.pdf", "application/pdf", pdf))), CONTEXT)
    (order,) = extraction.orders
    assert extraction.kind is MessageKind.ORDER
    assert order.source == "attachment:PO-CMD-26-2207.pdf#order-x.xml"
    assert order.delivery_date.value == date(2026, 12, 3)


def test_email_with_only_an_invoice_xml_has_no_order_from_it() -> None:
    raw = message_with(("INV-2026-5531.xml", "application/xml", (GOLDEN / "ubl_invoice.xml").read_bytes()), body="Our invoice, for your records.\n")
    extraction = extract_message(parse(raw), CONTEXT)
    assert all(not o.source.startswith("attachment:") for o in extraction.orders)
