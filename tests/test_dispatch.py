"""Which extractor reads what, and how the email body completes an attached order."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from email.message import EmailMessage

from bot.model import MessageKind, RawMessage, ReasonCode
from bot.processing import parse
from extractors.context import ExtractionContext
from extractors.dispatch import extract_message

CONTEXT = ExtractionContext(reference_date=date(2026, 11, 20), day_first=True, decimal_comma=True)


def message_with(body: str, *attachments: tuple[str, str, bytes]) -> RawMessage:
    message = EmailMessage()
    message["From"] = "Jana Becker <jana.becker@nordwind.de>"
    message["To"] = "orders@kestrel-supply.example"
    message["Subject"] = "Bestellung"
    message["Date"] = "Fri, 20 Nov 2026 09:00:00 +0100"
    message["Message-ID"] = "<dispatch-test@nordwind.de>"
    message.set_content(body)
    for name, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return RawMessage(data=message.as_bytes(), origin="test", name="test.eml")


def test_unreadable_attachment_takes_the_po_written_in_the_body_over_its_file_name():
    """Given a broken PDF named PO-777.pdf and a body that states the PO number,
    when extracted, then the order is unreadable_document with the body's PO, not the file name's."""
    raw = message_with(
        "Hallo,\n\nanbei unsere Bestellung Nr. 4500123456.\nBitte bis 10.12.2026 liefern.\n\nGruß\nJana\n",
        ("PO-777.pdf", "application/pdf", b"%PDF-1.4\n%broken beyond repair"),
    )
    extraction = extract_message(parse(raw), CONTEXT)
    (order,) = extraction.orders
    assert extraction.kind is MessageKind.ORDER
    assert order.reason_codes == (ReasonCode.UNREADABLE_DOCUMENT,)
    assert order.po_number.value == "4500123456"
    assert order.delivery_date.value == date(2026, 12, 10)


def test_body_order_when_no_document_holds_one():
    raw = message_with(
        "Hello,\n\nplease deliver 4 pcs AX-1523 Hand dispenser for stretch film.\n"
        "Our order number: 4500123457\n\nRegards\n",
        ("logo.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
    )
    (order,) = extract_message(parse(raw), CONTEXT).orders
    assert order.po_number.value == "4500123457"
    assert [str(q.quantity.value) for q in order.lines] == ["4"]


def test_an_order_the_kind_model_doubts_goes_to_review(monkeypatch):
    """Given a body order the rules read as a new order, when the trained kind model is
    confident it is a change instead, then the order is kept but sent to review with
    the disagreement named (the model can never make an order auto-keyed)."""
    from bot.model import MessageKind as K
    from extractors import dispatch
    from extractors.nlp.kind import KindPrediction

    doubt = KindPrediction(K.CHANGE, 0.97, tuple((k, 0.97 if k is K.CHANGE else 0.0075) for k in K))
    monkeypatch.setattr(dispatch, "predict_kind", lambda *a, **k: doubt)
    raw = message_with("Hello,\n\nplease deliver 4 pcs AX-1523.\nOur order number: 4500123458\n\nRegards\n")
    extraction = extract_message(parse(raw), CONTEXT)
    (order,) = extraction.orders
    assert extraction.kind is MessageKind.ORDER
    assert ReasonCode.LOW_CONFIDENCE in order.reason_codes
    assert any(r.field == "kind" and "change" in r.message for r in order.reasons)


def test_without_a_trained_model_the_rules_decide(monkeypatch):
    from extractors import dispatch
    from extractors.nlp.pipeline import ModelMissing

    def missing(*args, **kwargs):
        raise ModelMissing(Path("/nowhere/kind"), "kind")

    monkeypatch.setattr(dispatch, "predict_kind", missing)
    raw = message_with("Hello,\n\nplease deliver 4 pcs AX-1523.\nOur order number: 4500123459\n\nRegards\n")
    (order,) = extract_message(parse(raw), CONTEXT).orders
    assert order.po_number.value == "4500123459"


def test_a_hedged_quantity_in_a_body_order_is_not_keyed():
    """'30 or 40 pcs' and 'approx. 50' are not numbers to key: the line keeps no
    quantity and the order goes to review with ambiguous_quantity."""
    raw = message_with(
        "Hello,\n\nplease deliver:\n- 30 or 40 pcs AX-1523 Hand dispenser for stretch film\n"
        "- approx. 50 pcs AX-1410 Pallet cover sheet 1200x800mm\n- 4 pcs AX-2040\n"
        "Our order number: 4500123460\n\nRegards\n"
    )
    (order,) = extract_message(parse(raw), CONTEXT).orders
    assert ReasonCode.AMBIGUOUS_QUANTITY in order.reason_codes
    assert [line.quantity.value for line in order.lines][:2] == [None, None]
    assert order.lines[2].quantity.value == 4
