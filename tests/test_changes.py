"""Changes and cancellations linked to the earlier order, with the difference shown."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from email.message import EmailMessage

import pytest

from bot.changes import EarlierOrder, link_request, order_difference
from bot.model import (
    Address,
    Field,
    MessageKind,
    Order,
    OrderLine,
    OrderState,
    Reason,
    ReasonCode,
)
from bot.store import codec
from tests.test_pipeline import body_order, inbox, make_pipeline, store  # noqa: F401 - fixtures


def ln(sku: str, qty: str | None = None, uom: str | None = None, price: str | None = None) -> OrderLine:
    return OrderLine(
        sku=Field(sku, 0.9),
        quantity=Field(Decimal(qty), 0.9) if qty else Field(None),
        uom=Field(uom, 0.9) if uom else Field(None),
        unit_price=Field(Decimal(price), 0.9) if price else Field(None),
    )


def po(*lines: OrderLine, **fields) -> Order:
    return Order(source="body", customer_id=Field("C1001", 1.0), po_number=Field("4711", 0.9), lines=lines, **fields)


BEFORE = po(ln("AX-2291", "24", "EA", "3.40"), ln("AX-1410", "12", "EA"), delivery_date=Field(date(2026, 12, 1), 0.9))


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (po(), ()),  # the change states nothing it changes
        (po(ln("AX-2291", "30")), ("line AX-2291: quantity 24 -> 30", "line AX-1410 not in the change (was 12 EA)")),
        (
            po(ln("AX-2291", "24", "EA"), ln("AX-1410", "12"), delivery_date=Field(date(2026, 12, 5), 0.9)),
            ("delivery_date 2026-12-01 -> 2026-12-05",),
        ),
        (
            po(ln("AX-2291", "24"), ln("AX-1410", "12"), ln("AX-9770", "5", "EA")),
            ("new line AX-9770 (5 EA)",),
        ),
        (po(ln("AX-2291", "24.00", price="3.10"), ln("AX-1410", "12")), ("line AX-2291: unit_price 3.40 -> 3.10",)),
        (
            po(ship_to=Field(Address("Nordwind", "Kai 1", "20457", "Hamburg", "DE"), 0.9), currency=Field("EUR", 0.9)),
            ("currency (none) -> EUR", "ship_to (none) -> Nordwind, Kai 1, 20457, Hamburg, DE"),
        ),
    ],
)
def test_order_difference(after, expected):
    assert order_difference(BEFORE, after) == expected


CHANGE = po(ln("AX-2291", "30"), reasons=(Reason(ReasonCode.CHANGE_REQUEST, "the customer asks to change an order"),))
CANCEL = po(reasons=(Reason(ReasonCode.CANCELLATION_REQUEST, "the customer asks to cancel an order"),))
KEYED = EarlierOrder(BEFORE, 12, OrderState.KEYED, "SO-000042")


@pytest.mark.parametrize(
    ("request_order", "kind", "earlier", "code", "expected", "found", "in_message"),
    [
        (
            CHANGE, MessageKind.CHANGE, KEYED, ReasonCode.CHANGE_REQUEST,
            "order 12 (keyed, portal order SO-000042)",
            "line AX-2291: quantity 24 -> 30; line AX-1410 not in the change (was 12 EA)",
            "change PO 4711",
        ),
        (
            CANCEL, MessageKind.CANCELLATION, KEYED, ReasonCode.CANCELLATION_REQUEST,
            "order 12 (keyed, portal order SO-000042)", "cancel", "cancel PO 4711",
        ),
        (
            CHANGE, MessageKind.CHANGE, None, ReasonCode.CHANGE_REQUEST,
            "an earlier order PO 4711 from C1001", None, "no earlier order PO 4711 from C1001 in the store",
        ),
        (
            po(), MessageKind.CHANGE, EarlierOrder(BEFORE), ReasonCode.CHANGE_REQUEST,
            "an order earlier in this run", "no difference read from the message; compare by hand", "change PO 4711",
        ),
    ],
)
def test_link_request(request_order, kind, earlier, code, expected, found, in_message):
    asked: list[tuple[str, str]] = []

    def find(customer_id, po_number):
        asked.append((customer_id, po_number))
        return earlier

    linked = link_request(request_order, kind, find)
    assert asked == [("C1001", "4711")]
    (reason,) = linked.reasons
    assert reason.code is code and reason.blocking and linked.review
    assert (reason.field, reason.expected, reason.found) == ("po_number", expected, found)
    assert in_message in reason.message
    assert linked.linked_order_id == (earlier.order_id if earlier else None)
    assert codec.load_order(codec.dump_order(linked)) == linked


def test_a_request_without_a_po_number_is_not_looked_up():
    order = Order(source="body", customer_id=Field("C1001", 1.0), reasons=(Reason(ReasonCode.CANCELLATION_REQUEST, "x"),))
    linked = link_request(order, MessageKind.CANCELLATION, lambda c, p: pytest.fail("looked up"))
    (reason,) = linked.reasons
    assert reason.code is ReasonCode.CANCELLATION_REQUEST and "PO number could not be read" in reason.message


def cancellation(po_number: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Jana Becker <jana.becker@nordwind.de>"
    message["To"] = "orders@kestrel-supply.example"
    message["Subject"] = f"Cancellation of order {po_number}"
    message["Message-ID"] = f"<cancel-{po_number}@nordwind.de>"
    message.set_content(f"Hello,\n\nplease cancel our order {po_number}. We no longer need the goods.\n\nRegards\nJana Becker\n")
    return message.as_bytes()


def test_a_cancellation_through_the_pipeline_is_linked_to_the_stored_order(store, master, inbox, tmp_path):  # noqa: F811
    """Given an order PO CX-4711 in the store, when the customer's cancellation of it
    comes in, then the cancellation goes to review linked to that order (id and state)."""
    (inbox / "1.eml").write_bytes(body_order("CX-4711"))
    make_pipeline(store, master, inbox).run_once()
    (original,) = store.orders()
    later = tmp_path / "later"
    later.mkdir()
    (later / "2.eml").write_bytes(cancellation("CX-4711"))
    (later / "3.eml").write_bytes(cancellation("CX-9999"))
    make_pipeline(store, master, later).run_once()
    requests = {o.order.po_number.value: o for o in store.orders() if o.id != original.id}
    linked = requests["CX-4711"]
    assert linked.state is OrderState.NEEDS_REVIEW
    assert linked.order.linked_order_id == original.id
    (reason,) = [r for r in linked.order.reasons if r.code is ReasonCode.CANCELLATION_REQUEST]
    assert reason.expected == f"order {original.id} (ready)"
    unlinked = requests["CX-9999"].order
    assert unlinked.linked_order_id is None
    assert any("no earlier order PO CX-9999 from C1001 in the store" in r.message for r in unlinked.reasons)


def test_without_a_store_a_request_is_linked_to_an_order_earlier_in_the_run(master):
    """Given `orderbot extract` (no store), when an order and then its cancellation
    come in one run, then the cancellation names the earlier order of the run."""
    from bot.model import RawMessage
    from bot.processing import MessageProcessor
    from tests.test_pipeline import TODAY

    processor = MessageProcessor(master, today=TODAY)
    processor.process(RawMessage(body_order("CX-5100"), "test", "1.eml"))
    decided = processor.process(RawMessage(cancellation("CX-5100"), "test", "2.eml"))
    (request,) = decided.extraction.orders
    (reason,) = [r for r in request.reasons if r.code is ReasonCode.CANCELLATION_REQUEST]
    assert reason.expected == "an order earlier in this run" and request.linked_order_id is None
