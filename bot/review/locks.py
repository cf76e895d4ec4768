"""One handler per order: a lock taken when the order is opened, renewed by
every action, expiring ``ttl`` after the last one. A supervisor may take over
an order someone else holds (the take-over is audited by the caller)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.review.store import ReviewDb
from bot.store.schema import review_locks


@dataclass(frozen=True, slots=True)
class Lock:
    order_id: int
    holder: str
    expires_at: datetime


class Locks:
    def __init__(self, db: ReviewDb, *, ttl: timedelta) -> None:
        self.db = db
        self.ttl = ttl

    def acquire(self, order_id: int, holder: str, *, force: bool = False) -> Lock:
        """Take or renew the lock; returns the lock as it now is: ``holder``'s,
        or the other holder's if theirs is still live (and not ``force``)."""
        now = self.db.now()
        with self.db.writing() as conn:
            insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(review_locks)
            stmt = insert.values(order_id=order_id, holder=holder, expires_at=now + self.ttl)
            where = None if force else or_(review_locks.c.holder == holder, review_locks.c.expires_at <= now)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[review_locks.c.order_id],
                    set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
                    where=where,
                )
            )
            row = conn.execute(select(review_locks).where(review_locks.c.order_id == order_id)).one()
        return Lock(row.order_id, row.holder, row.expires_at)

    def current(self, order_id: int) -> Lock | None:
        """The live lock of the order, or None if it is free."""
        with self.db.reading() as conn:
            row = conn.execute(select(review_locks).where(review_locks.c.order_id == order_id)).one_or_none()
        if row is None or row.expires_at <= self.db.now():
            return None
        return Lock(row.order_id, row.holder, row.expires_at)

    def all_live(self) -> dict[int, Lock]:
        now = self.db.now()
        with self.db.reading() as conn:
            rows = conn.execute(select(review_locks).where(review_locks.c.expires_at > now)).all()
        return {r.order_id: Lock(r.order_id, r.holder, r.expires_at) for r in rows}

    def release(self, order_id: int, holder: str) -> None:
        with self.db.writing() as conn:
            conn.execute(
                delete(review_locks).where(review_locks.c.order_id == order_id, review_locks.c.holder == holder)
            )
