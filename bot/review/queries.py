"""The review queue: orders in ``needs_review``, urgent first then oldest (the
store's queue order), filtered by reason and customer, with counts per reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bot.model import MessageStatus, OrderState, ReasonCode
from bot.store import MAIL_ATTENTION, KeyingOutcome, LedgerEntry, OutgoingMail, Store, StoredOrder


@dataclass(frozen=True, slots=True)
class Queue:
    orders: list[StoredOrder]
    total: int
    reason_counts: list[tuple[str, int]]  # over the whole queue, most frequent first
    customers: list[str]


@dataclass(frozen=True, slots=True)
class GaveUp:
    """An order keying gave up on (``failed``), with why, for a person to send back."""

    order: StoredOrder
    why: str


SHOWN = 100  # of each list under the queue; the heading says how many there are


def failed_keying(store: Store) -> tuple[list[GaveUp], int]:
    """The first ``SHOWN`` orders in ``failed`` (keying tried them ``portal.max_attempts``
    times), in queue order, each with why; and how many there are."""
    total = store.order_counts()[OrderState.FAILED]
    return [GaveUp(stored, why_keying_gave_up(store, stored.id)) for stored in store.orders(state=OrderState.FAILED, limit=SHOWN)], total


def unreadable_messages(store: Store) -> tuple[list[LedgerEntry], int]:
    """The newest ``SHOWN`` messages the bot could not read (``failed``: not an
    email, a broken PDF, one that killed the process), and how many there are."""
    total = store.message_counts()[MessageStatus.FAILED]
    return store.messages(status=MessageStatus.FAILED, limit=SHOWN, newest_first=True), total


def mail_for_a_person(store: Store) -> list[OutgoingMail]:
    """The oldest ``SHOWN`` mails to customers the bot will not send on its own:
    ``uncertain`` (the connection broke after the content went out: the customer
    may have it) and ``failed`` (the server refused it)."""
    return store.outgoing_mails(status=MAIL_ATTENTION, limit=SHOWN)


def why_keying_gave_up(store: Store, order_id: int) -> str:
    """The last attempt that failed for good, and the portal's error then."""
    last = next((a for a in reversed(store.keying_attempts(order_id)) if a.outcome is KeyingOutcome.FAILED), None)
    return f"keying gave up after attempt {last.attempt}: {last.error}" if last else "keying gave up"


def review_queue(store: Store, *, reason: str | None = None, customer: str | None = None) -> Queue:
    waiting = store.orders(state=OrderState.NEEDS_REVIEW)
    counts = Counter(code.value for o in waiting for code in o.order.reason_codes)
    customers = sorted({o.customer_id for o in waiting if o.customer_id})
    shown = waiting
    if reason:
        wanted = ReasonCode(reason)
        shown = [o for o in shown if wanted in o.order.reason_codes]
    if customer:
        needle = customer.strip().lower()
        shown = [
            o
            for o in shown
            if needle in (o.customer_id or "").lower() or needle in (o.order.customer_name.value or "").lower()
        ]
    return Queue(shown, len(waiting), sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])), customers)
