"""What the store hands back: frozen records, one per kind of row.

Timestamps are timezone-aware and in UTC. States are the enums of
``bot.model``; an event's states are ``MessageStatus`` for a message and
``OrderState`` for an order.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from bot.model import MessageStatus, Order, OrderState


class Entity(enum.StrEnum):
    """What an event is about."""

    MESSAGE = "message"
    ORDER = "order"


@dataclass(frozen=True, slots=True)
class MessageLocation:
    """One place an IMAP message was seen. A UID is only meaningful together
    with its folder's UIDVALIDITY."""

    account: str
    folder: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One raw message in the idempotency ledger, whatever mailbox it came from."""

    id: int
    message_id: str
    sha256: str
    dedup_key: str
    origin: str
    name: str
    status: MessageStatus
    reason: str | None
    received_at: datetime
    updated_at: datetime
    attempts: int = 0  # tries at deciding it (see Store.begin_deciding)
    full_size: int | None = None  # only its header block is stored; this is the whole message's size


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """An attachment of a ledger entry; its bytes are ``Store.raw_bytes(sha256)``."""

    id: int
    ledger_id: int
    name: str
    content_type: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """An order row. ``customer_id``, ``po_number`` and ``urgent`` are copies of
    the order's values, kept as columns for the keyed-order index and queues."""

    id: int
    ledger_id: int
    source: str
    customer_id: str | None
    po_number: str | None
    state: OrderState
    urgent: bool
    priority: int
    order: Order
    portal_order_number: str | None
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class Event:
    """One change of a message or an order: who or what moved it, from where to
    where, and why. ``from_state`` is None when the entity was created; it equals
    ``to_state`` for an edit that does not change the state."""

    id: int
    at: datetime
    entity: Entity
    entity_id: int
    from_state: OrderState | MessageStatus | None
    to_state: OrderState | MessageStatus
    actor: str
    reason: str | None


class MailKind(enum.StrEnum):
    """What an outgoing mail is; an order gets at most one of each."""

    ACKNOWLEDGEMENT = "acknowledgement"
    CLARIFICATION = "clarification"


class MailStatus(enum.StrEnum):
    """Where an outgoing mail is. ``sending`` is committed before the server is
    spoken to, so a crash mid-send leaves it there and it becomes ``uncertain``:
    at most once, never twice."""

    QUEUED = "queued"  # waiting for its next attempt (next_attempt_at)
    SENDING = "sending"  # claimed by a delivery run, which is talking to the server
    SENT = "sent"  # the server took it (250 after DATA) or the outbox holds it
    UNCERTAIN = "uncertain"  # it went out but the answer never came: a person checks
    FAILED = "failed"  # refused for good (5xx, too many attempts, could not be written)
    SUPPRESSED = "suppressed"  # deliberately not sent (auto-reply, bulk mail, no sender)


# Allowed changes of an outgoing mail. From ``uncertain`` and ``failed`` only a
# person moves it on (``Store.settle_mail``); the bot never re-sends on its own.
MAIL_TRANSITIONS: dict[MailStatus | None, frozenset[MailStatus]] = {
    None: frozenset({MailStatus.QUEUED, MailStatus.SUPPRESSED, MailStatus.FAILED}),
    MailStatus.QUEUED: frozenset({MailStatus.SENDING}),
    MailStatus.SENDING: frozenset(
        {MailStatus.SENT, MailStatus.QUEUED, MailStatus.FAILED, MailStatus.UNCERTAIN}
    ),
    MailStatus.UNCERTAIN: frozenset({MailStatus.SENT, MailStatus.FAILED, MailStatus.QUEUED}),
    MailStatus.FAILED: frozenset({MailStatus.QUEUED}),
    MailStatus.SENT: frozenset(),
    MailStatus.SUPPRESSED: frozenset(),
}

# Outgoing mail a person must look at.
MAIL_ATTENTION = (MailStatus.UNCERTAIN, MailStatus.FAILED)


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """One email to a customer about an order, from queueing to its outcome.

    ``raw`` is the message exactly as it is (or was) sent; it is None only for
    a mail that was suppressed or could not be composed. ``last_error`` is the
    server's reply or the failure of the latest attempt; ``note`` says why a
    mail was suppressed or how a person settled it."""

    id: int
    order_id: int
    kind: MailKind
    status: MailStatus
    message_id: str | None
    sender: str | None
    recipient: str | None
    subject: str | None
    language: str | None
    raw: bytes | None = field(repr=False)
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    note: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
