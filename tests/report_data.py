"""Orders with a known history in a real store, for the report and metrics tests.

Every step moves a fake clock by a stated number of seconds, so durations,
days and rates are known exactly.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.model import (
    Field,
    MessageStatus,
    Order,
    OrderLine,
    OrderState,
    Reason,
    ReasonCode,
)
from bot.store import KeyingOutcome, Store

SCRIPT_NAME = "<script>alert(1)</script>"
DAY1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = DAY1) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def message(store: Store, name: str = "") -> int:
    raw = f"Message-ID: <{uuid.uuid4().hex}@t>\r\n\r\n{name}".encode()
    key = hashlib.sha256(raw).hexdigest()
    entry = store.record_message(
        message_id=f"<{key}@t>", sha256=key, dedup_key=key, raw=raw, origin="test", name=name or key
    )
    return entry.id


def make_order(
    customer: str,
    po: str,
    *,
    name: str | None = None,
    value: str = "100",
    reasons: Sequence[ReasonCode] = (),
) -> Order:
    return Order(
        source="body",
        customer_id=Field.known(customer),
        customer_name=Field(name or f"{customer} GmbH", 0.9),
        po_number=Field(po, 1.0),
        lines=(
            OrderLine(
                sku=Field.known("AX-1"),
                quantity=Field(Decimal(1), 1.0),
                unit_price=Field(Decimal(value), 1.0),
            ),
        ),
        reasons=tuple(Reason(code, f"{code} found") for code in reasons),
    )


def decide(
    store: Store,
    clock: Clock,
    customer: str,
    po: str,
    state: OrderState,
    *,
    after: float = 60,
    **order: object,
) -> int:
    """A message arrives now; ``after`` seconds later its order is decided into ``state``."""
    ledger_id = message(store, po)
    clock.advance(after)
    status = (
        MessageStatus.NEEDS_REVIEW if state is OrderState.NEEDS_REVIEW else MessageStatus.PROCESSED
    )
    (stored,) = store.save_outcome(
        ledger_id, [(make_order(customer, po, **order), state, None)], status
    )
    return stored.id


def key(store: Store, clock: Clock, order_id: int, *, wait: float = 30, takes: float = 10) -> None:
    """The ready order waits ``wait`` seconds, then a keying attempt of ``takes`` seconds keys it."""
    clock.advance(wait)
    attempt = store.begin_keying(order_id, holder="test")
    clock.advance(takes)
    store.finish_keying(
        attempt.id,
        KeyingOutcome.KEYED,
        to_state=OrderState.KEYED,
        reason="keyed",
        portal_order_number=f"SO-{order_id:06d}",
    )


def two_days(store: Store, clock: Clock) -> dict[str, int]:
    """Day 1: A1 straight through; A2 in review (unknown sku, price mismatch);
    A3 reviewed, approved after 600 s, then keyed. Day 2: B1 straight through;
    B2 ready (pending); B3 rejected outright; one message without an order.
    Days 1 and 2 have 3 and 4 messages, 3 orders each."""
    clock.now = DAY1
    ids = {"A1": decide(store, clock, "C1", "A1", OrderState.READY, after=60)}
    key(store, clock, ids["A1"])  # arrival to number: 60 + 30 + 10
    ids["A2"] = decide(
        store,
        clock,
        "C1",
        "A2",
        OrderState.NEEDS_REVIEW,
        after=120,
        reasons=[ReasonCode.UNKNOWN_SKU, ReasonCode.PRICE_MISMATCH],
    )
    ids["A3"] = decide(
        store,
        clock,
        "C2",
        "A3",
        OrderState.NEEDS_REVIEW,
        after=180,
        name=SCRIPT_NAME,
        reasons=[ReasonCode.UNKNOWN_SKU],
    )
    clock.advance(600)
    store.transition(ids["A3"], OrderState.READY, actor="alice", reason="approved")
    key(store, clock, ids["A3"], wait=100)  # arrival to number: 180 + 600 + 100 + 10
    clock.now = DAY2
    ids["B1"] = decide(store, clock, "C1", "B1", OrderState.READY, after=60)
    key(store, clock, ids["B1"])
    ids["B2"] = decide(store, clock, "C2", "B2", OrderState.READY, after=60, name=SCRIPT_NAME)
    ids["B3"] = decide(store, clock, "C2", "B3", OrderState.REJECTED, after=300, name=SCRIPT_NAME)
    message(store, "no order")
    return ids
