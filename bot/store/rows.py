"""Database rows to store records, and orders to their stored columns."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row

from bot.extraction_json import order_from_json, order_to_json
from bot.model import MessageStatus, Order, OrderState
from bot.store import codec
from bot.store.records import (
    Entity,
    Event,
    LedgerEntry,
    MailKind,
    MailStatus,
    OutgoingMail,
    StoredDocument,
    StoredOrder,
)


def order_columns(order: Order) -> dict[str, object]:
    """The columns of ``orders`` that are copied from the order itself."""
    return {
        "source": order.source,
        "customer_id": order.customer_id.value,
        "po_number": order.po_number.value,
        "urgent": bool(order.urgent.value),
        "order_json": json.dumps(order_to_json(order), ensure_ascii=False),
        "fields_json": codec.dump_order(order),
    }


def stored_order(row: Row[Any]) -> StoredOrder:
    if row.fields_json is not None:
        order = codec.load_order(row.fields_json)
    else:  # a row written by something that only knows the FORMATS JSON
        order = order_from_json(json.loads(row.order_json))
    return StoredOrder(
        id=row.id,
        ledger_id=row.ledger_id,
        source=row.source,
        customer_id=row.customer_id,
        po_number=row.po_number,
        state=OrderState(row.state),
        urgent=bool(row.urgent),
        priority=row.priority,
        order=order,
        portal_order_number=row.portal_order_number,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


def ledger_entry(row: Row[Any]) -> LedgerEntry:
    return LedgerEntry(
        id=row.id,
        message_id=row.message_id,
        sha256=row.sha256,
        dedup_key=row.dedup_key,
        origin=row.origin,
        name=row.name,
        status=MessageStatus(row.status),
        reason=row.reason,
        received_at=row.received_at,
        updated_at=row.updated_at,
        attempts=row.attempts,
        full_size=row.full_size,
    )


def stored_document(row: Row[Any]) -> StoredDocument:
    return StoredDocument(
        id=row.id,
        ledger_id=row.ledger_id,
        name=row.name,
        content_type=row.content_type,
        sha256=row.sha256,
        size=row.size,
    )


def event(row: Row[Any]) -> Event:
    entity = Entity(row.entity)
    state_type = OrderState if entity is Entity.ORDER else MessageStatus
    return Event(
        id=row.id,
        at=row.at,
        entity=entity,
        entity_id=row.entity_id,
        from_state=state_type(row.from_state) if row.from_state is not None else None,
        to_state=state_type(row.to_state),
        actor=row.actor,
        reason=row.reason,
    )


def outgoing_mail(row: Row[Any]) -> OutgoingMail:
    return OutgoingMail(
        id=row.id,
        order_id=row.order_id,
        kind=MailKind(row.kind),
        status=MailStatus(row.status),
        message_id=row.message_id,
        sender=row.sender,
        recipient=row.recipient,
        subject=row.subject,
        language=row.language,
        raw=bytes(row.raw) if row.raw is not None else None,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        note=row.note,
        created_at=row.created_at,
        updated_at=row.updated_at,
        sent_at=row.sent_at,
    )
