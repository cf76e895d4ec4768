"""From a parsed ``Message`` to an ``Extraction``: which extractor reads what.

Order documents (PDF, CSV, XLSX, UBL / Order-X XML) each give their own
orders; the email body is read as an order only when no document holds one.
A PDF that carries an order XML as an attached file (an Order-X / Factur-X
style hybrid) gives the XML's orders: the XML wins over the printed text.
The message's kind comes from ``classify``. Change and cancellation requests
carry one order entry naming the PO they refer to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from bot.model import (
    Document,
    Extraction,
    Field,
    Message,
    MessageKind,
    Order,
    Provenance,
    Reason,
    ReasonCode,
)
from extractors.classify import classify
from extractors.context import ExtractionContext
from extractors.nlp import crosscheck
from extractors.nlp.kind import KindPrediction, combine, predict_kind
from extractors.nlp.pipeline import ModelMissing
from extractors.pdf import orders_from_pdf
from extractors.spreadsheet import orders_from_sheet
from extractors.structured import orders_from_hybrid_pdf, orders_from_xml
from extractors.quantities import flag_hedged_quantities
from extractors.quotes import order_text
from extractors.templates import Sender, TemplateSet, templated_pdf_orders
from extractors.text import order_fields_from_text, orders_from_text

log = logging.getLogger(__name__)

PDF = "application/pdf"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XML = "application/xml"
TEXT_XML = "text/xml"

DocumentExtractor = Callable[..., tuple[Order, ...]]


def _pdf_orders(document: Document, *, context: ExtractionContext) -> tuple[Order, ...]:
    """The order XML a hybrid PDF carries, else the printed text."""
    return orders_from_hybrid_pdf(document, context=context, printed=orders_from_pdf)


EXTRACTORS: dict[str, DocumentExtractor] = {
    PDF: _pdf_orders,
    CSV: orders_from_sheet,
    XLSX: orders_from_sheet,
    XML: orders_from_xml,
    TEXT_XML: orders_from_xml,
}


def _document_orders(
    document: Document, context: ExtractionContext, templates: TemplateSet | None, sender: Sender
) -> tuple[Order, ...]:
    if document.content_type == PDF and templates and templates.for_sender(sender):
        # The customer has templates: the printed text is read by the generic
        # extractor or a template, whichever fits better (extractors.templates).
        printed = partial(templated_pdf_orders, templates=templates, sender=sender)
        return orders_from_hybrid_pdf(document, context=context, printed=printed)
    extractor = EXTRACTORS.get(document.content_type)
    if extractor is None:
        return ()
    return extractor(document, context=context)


def _request_order(kind: MessageKind, message: Message, po_number: str | None) -> Order:
    code = ReasonCode.CHANGE_REQUEST if kind is MessageKind.CHANGE else ReasonCode.CANCELLATION_REQUEST
    return Order(
        source="body",
        po_number=Field(po_number, 0.8, Provenance("subject")) if po_number else Field(None),
        reasons=(Reason(code, f"the customer asks to {'change' if kind is MessageKind.CHANGE else 'cancel'} an order"),),
    )


_FILLABLE = ("order_date", "delivery_date", "currency", "ship_to", "notes")


def _fill_from_body(order: Order, body: Order, *, single: bool) -> Order:
    """Fields the document leaves empty, taken from what the email body states."""
    changes = {name: getattr(body, name) for name in _FILLABLE if not getattr(order, name).present and getattr(body, name).present}
    guessed_po = order.po_number.provenance is not None and order.po_number.provenance.rule == "file_name"
    if single and body.po_number.present and (not order.po_number.present or guessed_po):
        changes["po_number"] = body.po_number
    if body.urgent.value and not order.urgent.value:
        changes["urgent"] = body.urgent
    return replace(order, **changes) if changes else order


def _kind_model(message: Message, text: str) -> KindPrediction | None:
    """The trained classifier's opinion on the kind; None where no model is installed."""
    try:
        return predict_kind(message.subject, text, [d.name for d in message.documents])
    except ModelMissing:
        log.warning("no trained kind model; message kinds come from the rules alone (run `make model`)")
        return None


def _crosschecked(order: Order, text: str) -> Order:
    """A body order with a review reason wherever the trained NER reads the text otherwise."""
    try:
        reasons = crosscheck(order, text)
    except ModelMissing:
        return order
    for reason in reasons:
        order = order.with_reason(reason)
    return order


def extract_message(
    message: Message,
    context: ExtractionContext,
    *,
    templates: TemplateSet | None = None,
    customer_id: str | None = None,
) -> Extraction:
    """``templates``: per-customer templates, tried on the PDFs of a sender
    they are for (``customer_id`` as known from the sender's domain)."""
    document_orders: list[Order] = []
    sender = Sender(customer_id=customer_id, domain=message.sender_domain)
    for document in message.documents:
        document_orders.extend(_document_orders(document, context, templates, sender))
    text = order_text(message.body, message.quoted, message.subject)
    body_orders: tuple[Order, ...] = ()
    if not document_orders:
        body_orders = orders_from_text(text, source="body", context=context, subject=message.subject)
    elif body_fields := order_fields_from_text(text, source="body", context=context, subject=message.subject):
        single = len(document_orders) == 1
        document_orders = [_fill_from_body(o, body_fields, single=single) for o in document_orders]
    verdict = classify(message, has_order_document=bool(document_orders), body_orders=len(body_orders))
    kind_doubt = None
    model = _kind_model(message, text)
    if model is not None:
        decision = combine(verdict, model)
        verdict = decision.classification
        kind_doubt = decision.note if decision.disputed else None
    if body_orders:
        body_orders = tuple(flag_hedged_quantities(_crosschecked(o, text)) for o in body_orders)
    if verdict.kind in (MessageKind.CHANGE, MessageKind.CANCELLATION):
        orders: tuple[Order, ...] = (_request_order(verdict.kind, message, verdict.referenced_po),)
    elif verdict.kind is MessageKind.ORDER:
        orders = tuple(document_orders) or body_orders
        if not orders:
            orders = (
                Order(
                    source="body",
                    reasons=(Reason(ReasonCode.LOW_CONFIDENCE, "the message reads as an order but no order could be extracted"),),
                ),
            )
        # The subject often carries the PO a body order forgot to state.
        orders = tuple(o if o.po_number.present or not verdict.referenced_po or len(orders) > 1 else replace(o, po_number=Field(verdict.referenced_po, 0.6, Provenance("subject"))) for o in orders)
        if kind_doubt:
            orders = tuple(o.with_reason(Reason(ReasonCode.LOW_CONFIDENCE, f"is this a new order? {kind_doubt}", field="kind")) for o in orders)
    else:
        orders = ()
    return Extraction(message_id=message.message_id, kind=verdict.kind, orders=orders, kind_confidence=verdict.confidence)
