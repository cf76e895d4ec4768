"""Per-customer extraction templates (extractors/templates.py).

The odd layout below is one the generic extractor misreads: the PO number
sits after "Job ticket" and the delivery date after "Wanted on", labels no
vocabulary knows, so the generic reader misses them.
"""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.errors import ConfigError
from bot.model import Document, Message, ReasonCode
from extractors.context import ExtractionContext
from extractors.dispatch import extract_message
from extractors.templates import DEFAULT_TEMPLATES, Sender, load_template, load_templates, templated_pdf_orders
from tests.pdf_factory import Sheet

CONTEXT = ExtractionContext(reference_date=date(2026, 11, 20), day_first=True)


def odd_layout_pdf() -> bytes:
    sheet = Sheet()
    sheet.text(40, 40, "Quillfeather Instruments Ltd", size=14, bold=True)
    sheet.text(40, 62, "PURCHASE ORDER", size=12, bold=True)
    sheet.text(40, 100, "Job ticket", bold=True)
    sheet.text(140, 100, "JT-88412")
    sheet.text(40, 116, "Raised", bold=True)
    sheet.text(140, 116, "18.11.2026")
    sheet.text(40, 132, "Wanted on", bold=True)
    sheet.text(140, 132, "04.02.2027")
    sheet.text(320, 100, "Deliver to:", bold=True)
    sheet.text(320, 114, "Quillfeather Instruments Ltd")
    sheet.text(320, 126, "Unit 4, Mill Lane")
    sheet.text(320, 138, "LS11 5QT Leeds")
    sheet.text(320, 150, "United Kingdom")
    y = 200
    for x, head in ((40, "Part"), (140, "Described as"), (360, "How many"), (430, "Each"), (500, "Amount")):
        sheet.text(x, y, head, bold=True)
    for row, (part, desc, qty, each, amount) in enumerate(
        (("QF-1001", "Brass fitting 12mm", "40", "2.50", "100.00"), ("QF-2002", "Copper elbow 15mm", "25", "4.00", "100.00"))
    ):
        y = 220 + 16 * row
        sheet.text(40, y, part)
        sheet.text(140, y, desc)
        sheet.right(390, y, qty)
        sheet.right(460, y, each)
        sheet.right(540, y, amount)
    sheet.text(360, 280, "Sum GBP", bold=True)
    sheet.right(540, 280, "200.00")
    return sheet.bytes()


TEMPLATE = """\
customer_id: QUILL
match:
  text: ["Quillfeather Instruments"]
fields:
  po_number:
    anchor: Job ticket
    value: right
  order_date:
    anchor: Raised
    date_format: "%d.%m.%Y"
  delivery_date:
    anchor_regex: "Wanted\\\\s+on"
    date_format: "%d.%m.%Y"
  ship_to:
    anchor: "Deliver to"
table:
  columns: {"Part": sku, "Described as": description, "How many": quantity, "Each": unit_price, "Amount": line_total}
  end_before: "Sum GBP"
defaults:
  currency: GBP
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def message(pdf: bytes, sender: str = "buyer@quillfeather.example") -> Message:
    return Message(
        message_id="<t@x>",
        sha256="0" * 64,
        sender=sender,
        subject="Order",
        documents=(Document("order.pdf", "application/pdf", pdf),),
    )


def test_generic_extractor_misreads_the_odd_layout():
    """Given the odd layout, when no template is used, then PO and delivery date are wrong or missing."""
    order = extract_message(message(odd_layout_pdf()), CONTEXT).orders[0]
    assert order.po_number.value != "JT-88412"
    assert order.delivery_date.value != date(2027, 2, 4)


def test_template_fixes_the_fields_with_provenance(tmp_path):
    """Given a template for the sender's customer, when the PDF is extracted,
    then the template's fields win, each with page, bbox and rule."""
    templates = load_templates(write(tmp_path / "t", "quill.yaml", TEMPLATE).parent)
    extraction = extract_message(message(odd_layout_pdf()), CONTEXT, templates=templates, customer_id="QUILL")
    (order,) = extraction.orders
    assert order.po_number.value == "JT-88412"
    assert order.order_date.value == date(2026, 11, 18)
    assert order.delivery_date.value == date(2027, 2, 4)
    assert order.currency.value == "GBP"
    assert order.ship_to.value.city == "Leeds" and order.ship_to.value.postal_code == "LS11 5QT"
    for name in ("po_number", "order_date", "delivery_date", "ship_to"):
        prov = getattr(order, name).provenance
        assert prov.rule == f"template:quill:{name}"
        assert prov.page == 1 and prov.bbox is not None and prov.source == "attachment:order.pdf"
    assert order.po_number.provenance.bbox[0] >= 139  # the value, right of the label
    assert [(line.codes[0], line.quantity.value, str(line.unit_price.value)) for line in order.lines] == [
        ("QF-1001", 40, "2.50"),
        ("QF-2002", 25, "4.00"),
    ]
    assert order.lines[0].quantity.provenance.rule == "template:quill:table"
    assert not any(r.code is ReasonCode.LOW_CONFIDENCE for r in order.reasons)


def test_template_for_another_customer_is_not_applied(tmp_path):
    """Given a template for QUILL, when another customer sends the same PDF, then the generic result stands."""
    templates = load_templates(write(tmp_path / "t", "quill.yaml", TEMPLATE).parent)
    generic = extract_message(message(odd_layout_pdf(), "x@other.example"), CONTEXT).orders[0]
    other = extract_message(message(odd_layout_pdf(), "x@other.example"), CONTEXT, templates=templates, customer_id="OTHER")
    assert other.orders[0] == generic
    assert not templates.for_sender(Sender("OTHER", "other.example"))


def test_template_whose_match_text_is_absent_is_not_applied(tmp_path):
    """Given a template whose match text is not on page 1, then the generic result stands."""
    text = TEMPLATE.replace("Quillfeather Instruments", "Somebody Else Entirely")
    templates = load_templates(write(tmp_path / "t", "quill.yaml", text).parent)
    doc = Document("order.pdf", "application/pdf", odd_layout_pdf())
    orders = templated_pdf_orders(doc, context=CONTEXT, templates=templates, sender=Sender("QUILL"))
    assert orders[0].po_number.value != "JT-88412"
    assert templates.best_for(doc, Sender("QUILL"), CONTEXT) is None


def test_sender_domain_selects_a_template(tmp_path):
    text = TEMPLATE.replace("customer_id: QUILL", "sender_domains: [quillfeather.example]")
    templates = load_templates(write(tmp_path / "t", "quill.yaml", text).parent)
    order = extract_message(message(odd_layout_pdf()), CONTEXT, templates=templates).orders[0]
    assert order.po_number.value == "JT-88412"
    best = templates.best_for(Document("order.pdf", "application/pdf", odd_layout_pdf()), Sender(domain="quillfeather.example"), CONTEXT)
    assert best is not None and best[0].name == "quill" and best[1] == 1.0


def test_two_tied_templates_that_disagree_send_the_order_to_review(tmp_path):
    """Given two templates that fit equally well but read the PO differently, then low_confidence."""
    folder = tmp_path / "t"
    write(folder, "a.yaml", TEMPLATE)
    write(folder, "b.yaml", TEMPLATE.replace("anchor: Job ticket\n    value: right", 'anchor: Job ticket\n    value: line\n    regex: "(JT)"'))
    templates = load_templates(folder)
    order = extract_message(message(odd_layout_pdf()), CONTEXT, templates=templates, customer_id="QUILL").orders[0]
    low = [r for r in order.reasons if r.code is ReasonCode.LOW_CONFIDENCE]
    assert low and low[0].field == "po_number" and "'a'" in low[0].message and "'b'" in low[0].message


def test_two_tied_templates_that_agree_are_fine(tmp_path):
    folder = tmp_path / "t"
    write(folder, "a.yaml", TEMPLATE)
    write(folder, "b.yaml", TEMPLATE)
    order = extract_message(message(odd_layout_pdf()), CONTEXT, templates=load_templates(folder), customer_id="QUILL").orders[0]
    assert order.po_number.value == "JT-88412"
    assert not any(r.code is ReasonCode.LOW_CONFIDENCE for r in order.reasons)


BAD = {
    "bad_yaml": ("customer_id: QUILL\nfields:\n  po_number: anchor: PO\n", 3, "not valid YAML: mapping values are not allowed here"),
    "unclosed": ("customer_id: QUILL\nfields:\n  po_number: [unclosed\n", 4, "while parsing a flow sequence started on line 3"),
    "unknown_key": ("customer_id: QUILL\nfields:\n  po_number:\n    anchor: PO\n    colour: red\n", 5, "unknown key 'colour'"),
    "missing_anchor": ("customer_id: QUILL\nfields:\n  order_date:\n    value: right\n", 3, "give exactly one of anchor"),
    "bad_regex": ("customer_id: QUILL\nfields:\n  po_number:\n    anchor: PO\n    regex: \"([A-Z\"\n", 5, "not a valid regular expression"),
    "bad_date_format": ("customer_id: QUILL\nfields:\n  order_date:\n    anchor: Date\n    date_format: \"%d.%Y\"\n", 5, "date_format '%d.%Y' needs"),
    "no_customer": ("fields:\n  po_number:\n    anchor: PO\n", 1, "customer_id or sender_domains"),
    "bad_value": ("customer_id: QUILL\nfields:\n  po_number:\n    anchor: PO\n    value: left\n", 5, "value"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_template_names_file_line_and_problem(tmp_path, case):
    text, line, problem = BAD[case]
    path = write(tmp_path / "t", f"{case}.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_templates(path.parent)
    message = str(caught.value)
    assert str(path) in message
    assert f"line {line}" in message
    assert problem in message


def test_config_check_fails_on_a_malformed_template(tmp_path):
    """Given settings pointing at a folder with a bad template, `orderbot config check` stops and names it."""
    write(tmp_path / "templates", "bad.yaml", BAD["unknown_key"][0])
    config = write(
        tmp_path,
        "orderbot.yaml",
        f"master_data:\n  path: {Path(__file__).resolve().parents[1] / 'demo' / 'masterdata'}\nextraction:\n  templates_dir: templates\n",
    )
    result = CliRunner().invoke(app, ["config", "check", "--config", str(config)])
    assert result.exit_code == 2
    output = "".join(result.output.split())  # the console wraps long lines anywhere
    assert "templates/bad.yaml" in output and "line5" in output and "unknownkey'colour'" in output


def test_missing_configured_folder_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_templates(tmp_path / "nowhere")


def test_bundled_example_templates_are_valid():
    templates = load_templates(None)
    assert DEFAULT_TEMPLATES.is_dir()
    assert "example-acme" in {t.name for t in templates.templates}
    for template in templates.templates:
        assert load_template(template.path).spec == template.spec


def acme_pdf() -> bytes:
    """The layout the bundled example template describes."""
    sheet = Sheet()
    sheet.text(40, 40, "Acme Sprocket Works", size=14, bold=True)
    sheet.text(40, 80, "Docket: AS-20417")
    sheet.text(40, 96, "Issued: 19.11.2026")
    sheet.text(40, 112, "Required by: 03.12.2026")
    sheet.text(320, 80, "Send goods to", bold=True)
    sheet.text(320, 94, "Acme Sprocket Works GmbH")
    sheet.text(320, 106, "Hafenstrasse 9")
    sheet.text(320, 118, "28217 Bremen")
    sheet.text(40, 140, "Remarks", bold=True)
    sheet.text(40, 154, "Ring the bell at gate 2")
    for x, head in ((40, "Sprocket"), (140, "What"), (360, "Pieces"), (430, "Per piece")):
        sheet.text(x, 190, head, bold=True)
    sheet.text(40, 208, "SP-77")
    sheet.text(140, 208, "Chain sprocket 42T")
    sheet.right(390, 208, "12")
    sheet.right(480, 208, "18,50")
    sheet.text(360, 240, "Docket total", bold=True)
    sheet.right(540, 240, "222,00")
    return sheet.bytes()


def test_the_bundled_example_template_reads_its_layout():
    """Given the bundled example and a PDF in its layout from its customer, then every field it names is read."""
    order = extract_message(
        message(acme_pdf(), "buyer@acme-sprockets.example"), CONTEXT, templates=load_templates(None), customer_id="ACME-EXAMPLE"
    ).orders[0]
    assert order.po_number.value == "AS-20417"
    assert order.order_date.value == date(2026, 11, 19)
    assert order.delivery_date.value == date(2026, 12, 3)
    assert order.currency.value == "EUR"
    assert order.ship_to.value.city == "Bremen"
    assert order.notes.value == "Ring the bell at gate 2"
    assert [(line.customer_sku.value, line.quantity.value, str(line.unit_price.value)) for line in order.lines] == [("SP-77", 12, "18.50")]


def test_generic_extractor_wins_when_it_fits_better(tmp_path):
    """Given a template that finds two of its four anchors (score 0.5), when the
    generic extractor reads all four fields confidently (score 1.0), then the
    generic result stands, even where the template reads a field otherwise."""
    text = """\
    customer_id: QUILL
    fields:
      po_number: {anchor: "PO Number", regex: "(\\\\d{4})"}
      currency: {anchor: "Currency"}
      order_date: {anchor: "Raised", date_format: "%d.%m.%Y"}
      delivery_date: {anchor: "Wanted on", date_format: "%d.%m.%Y"}
    """
    sheet = Sheet()
    sheet.text(40, 40, "PURCHASE ORDER", size=14, bold=True)
    sheet.text(40, 80, "PO Number: 4500012345")
    sheet.text(40, 96, "Order Date: 18.11.2026")
    sheet.text(40, 112, "Delivery Date: 04.12.2026")
    sheet.text(40, 128, "Currency: EUR")
    templates = load_templates(write(tmp_path / "t", "weak.yaml", text).parent)
    doc = Document("order.pdf", "application/pdf", sheet.bytes())
    generic = extract_message(message(doc.data), CONTEXT).orders[0]
    assert generic.po_number.value == "4500012345" and generic.delivery_date.value == date(2026, 12, 4)
    best = templates.best_for(doc, Sender("QUILL"), CONTEXT)
    assert best is not None and best[1] == 0.5  # it fits, but only half
    orders = templated_pdf_orders(doc, context=CONTEXT, templates=templates, sender=Sender("QUILL"))
    assert orders == (generic,)


def test_extract_command_takes_templates(tmp_path):
    """Given --templates, `orderbot extract` applies them for a sender whose domain names the customer."""
    import json

    masterdata = tmp_path / "md"
    source = Path(__file__).resolve().parents[1] / "demo" / "masterdata"
    masterdata.mkdir()
    for csv in source.glob("*.csv"):
        (masterdata / csv.name).write_text(csv.read_text(encoding="utf-8"), encoding="utf-8")
    customers = masterdata / "customers.csv"
    assert customers.read_text(encoding="utf-8").startswith("customer_id,name,email_domains,currency,credit_status,credit_limit")
    with customers.open("a", encoding="utf-8") as out:
        out.write("QUILL,Quillfeather Instruments Ltd,quillfeather.example,GBP,ok,100000\n")
    write(tmp_path / "t", "quill.yaml", TEMPLATE)
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"] = "buyer@quillfeather.example"
    mail["To"] = "orders@kestrel-supply.example"
    mail["Subject"] = "Purchase order"
    mail["Message-ID"] = "<quill-1@quillfeather.example>"
    mail.set_content("Please find our order attached.")
    mail.add_attachment(odd_layout_pdf(), maintype="application", subtype="pdf", filename="order.pdf")
    eml = tmp_path / "quill.eml"
    eml.write_bytes(bytes(mail))
    args = ["extract", "--master-data", str(masterdata), "--today", "2026-11-26", str(eml)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    without = json.loads(first.stdout.splitlines()[0])
    with_templates = json.loads(CliRunner().invoke(app, [*args[:-1], "--templates", str(tmp_path / "t"), str(eml)]).stdout.splitlines()[0])
    assert without["orders"][0]["po_number"] != "JT-88412"
    assert with_templates["orders"][0]["po_number"] == "JT-88412"


def test_a_bad_template_stops_the_bot_at_start(tmp_path):
    """Given settings whose templates folder holds a malformed template, building the pipeline raises ConfigError."""
    from bot.config import load_settings
    from bot.wiring import build_pipeline

    write(tmp_path / "templates", "bad.yaml", BAD["bad_regex"][0])
    config = write(
        tmp_path,
        "orderbot.yaml",
        f"data_dir: data\nmaster_data:\n  path: {Path(__file__).resolve().parents[1] / 'demo' / 'masterdata'}\n"
        "extraction:\n  templates_dir: templates\n",
    )
    settings = load_settings(config, environ={})
    assert settings.extraction.templates_dir == tmp_path / "templates"
    with pytest.raises(ConfigError, match=r"bad\.yaml: line 5, fields\.po_number\.regex: not a valid regular expression"):
        build_pipeline(settings, today=date(2026, 11, 26))
    assert not (tmp_path / "data").exists()  # stopped before the store was opened


def test_the_pipeline_gets_the_configured_templates(tmp_path):
    from bot.config import load_settings
    from bot.wiring import build_pipeline

    write(tmp_path / "templates", "quill.yaml", TEMPLATE)
    config = write(
        tmp_path,
        "orderbot.yaml",
        f"data_dir: data\nmaster_data:\n  path: {Path(__file__).resolve().parents[1] / 'demo' / 'masterdata'}\n"
        "extraction:\n  templates_dir: templates\n",
    )
    pipeline = build_pipeline(load_settings(config, environ={}), today=date(2026, 11, 26))
    with pipeline.store:
        assert [t.name for t in pipeline.processor.templates.templates] == ["quill"]
