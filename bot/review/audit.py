"""Every view and change in the workbench: who, when, what, field, before, after.

The ``audit`` table is append-only (triggers in migration 0004). An order's
history merges it with the store's own events, oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select

from bot.review.store import ReviewDb
from bot.store import Entity, Store
from bot.store.schema import audit


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    user: str
    order_id: int | None
    action: str
    field: str | None
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One line of an order's history: a store event or an audit entry."""

    at: datetime
    who: str
    what: str
    field: str | None = None
    before: str | None = None
    after: str | None = None
    kind: str = "audit"  # "event" or "audit"


class Audit:
    def __init__(self, db: ReviewDb) -> None:
        self.db = db

    def record(
        self,
        user: str,
        action: str,
        order_id: int | None = None,
        *,
        field: str | None = None,
        before: object = None,
        after: object = None,
    ) -> None:
        self.record_many(user, action, order_id, [(field, before, after)])

    def record_many(
        self, user: str, action: str, order_id: int | None, changes: list[tuple[str | None, object, object]]
    ) -> None:
        now = self.db.now()
        with self.db.writing() as conn:
            for field, before, after in changes:
                conn.execute(
                    insert(audit).values(
                        at=now,
                        user=user,
                        order_id=order_id,
                        action=action,
                        field=field,
                        before=None if before is None else str(before),
                        after=None if after is None else str(after),
                    )
                )

    def entries(self, order_id: int | None = None, *, action: str | None = None) -> list[AuditEntry]:
        query = select(audit).order_by(audit.c.id)
        if order_id is not None:
            query = query.where(audit.c.order_id == order_id)
        if action is not None:
            query = query.where(audit.c.action == action)
        with self.db.reading() as conn:
            return [AuditEntry(**r._mapping) for r in conn.execute(query)]

    def count_since(self, user: str, action: str, since: datetime) -> int:
        """How often ``user`` did ``action`` since then (failed logins, for throttling)."""
        with self.db.reading() as conn:
            return conn.execute(
                select(func.count()).where(audit.c.user == user, audit.c.action == action, audit.c.at >= since)
            ).scalar_one()

    def history(self, store: Store, order_id: int) -> list[HistoryItem]:
        """The order's store events and audit entries, oldest first."""
        items = [
            HistoryItem(
                e.at,
                e.actor,
                f"{e.from_state or 'new'} → {e.to_state}" + (f": {e.reason}" if e.reason else ""),
                kind="event",
            )
            for e in store.events(Entity.ORDER, order_id)
        ]
        items += [HistoryItem(a.at, a.user, a.action, a.field, a.before, a.after) for a in self.entries(order_id)]
        return sorted(items, key=lambda i: (i.at, i.kind != "event"))
