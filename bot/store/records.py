"""What the store hands back: frozen records, one per kind of row.

Timestamps are timezone-aware and in UTC. States are the enums of
``bot.model``; an event's states are ``MessageStatus`` for a message and
``OrderState`` for an order.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
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
