"""The store's side of keying: attempts, artifacts and the hold-back time of
retried orders. Mixed into ``Store``; every public method is one transaction.

Protocol (``bot.keying``): ``begin_keying`` moves the order to ``keying`` and
commits an attempt row before the portal is touched; ``finish_keying`` records
the outcome and moves the order on, together. An attempt left without an
outcome (the process died) is found by ``unfinished_attempts`` and settled by
searching the portal, never by typing the order again blindly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, delete, func, insert, or_, select, update

from bot.errors import InvalidTransition
from bot.model import ORDER_TRANSITIONS, Order, OrderState
from bot.store import rows
from bot.store.records import Entity, StoredOrder
from bot.store.schema import keying_artifacts, keying_attempts, orders

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sqlalchemy import Connection


class KeyingOutcome(enum.StrEnum):
    KEYED = "keyed"  # saved by this attempt, number read back
    FOUND = "found"  # the portal already had it (an earlier attempt saved it)
    RETRY = "retry"  # nothing was saved; the order is ready again after a pause
    REVIEW = "review"  # the portal refused it, or the read-back differs: a person looks
    FAILED = "failed"  # gave up after too many attempts
    UNCERTAIN = "uncertain"  # may be saved; the portal could not be searched yet


@dataclass(frozen=True, slots=True)
class KeyingAttempt:
    id: int
    order_id: int
    attempt: int
    idempotency_key: str
    holder: str
    started_at: datetime
    finished_at: datetime | None
    outcome: KeyingOutcome | None
    portal_order_number: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class KeyingArtifact:
    id: int
    order_id: int
    attempt_id: int
    kind: str  # screenshot, trace, page
    name: str
    data: bytes = field(repr=False)
    created_at: datetime


def idempotency_key(order: StoredOrder) -> str:
    """The order's name in the portal's world: one portal order per customer and PO."""
    return f"{order.customer_id}/{(order.po_number or '').strip().lower()}"


def _attempt(row: Row[Any]) -> KeyingAttempt:
    return KeyingAttempt(
        id=row.id,
        order_id=row.order_id,
        attempt=row.attempt,
        idempotency_key=row.idempotency_key,
        holder=row.holder,
        started_at=row.started_at,
        finished_at=row.finished_at,
        outcome=KeyingOutcome(row.outcome) if row.outcome else None,
        portal_order_number=row.portal_order_number,
        error=row.error,
    )


class KeyingRecords:
    """Keying methods of ``Store`` (see ``bot.store.store``)."""

    if TYPE_CHECKING:
        def _writing(self) -> AbstractContextManager[Connection]: ...
        def _reading(self) -> AbstractContextManager[Connection]: ...
        def _now(self) -> datetime: ...
        def _require_order(self, conn: Connection, order_id: int) -> StoredOrder: ...
        def _update_order(self, conn: Connection, now: datetime, current: StoredOrder,
                          values: dict[str, object], to_state: OrderState) -> None: ...
        def _log(self, conn: Connection, now: datetime, entity: Entity, entity_id: int,
                 from_state: Any, to_state: Any, actor: str, reason: str | None) -> None: ...

    def orders_to_key(self, limit: int | None = None) -> list[StoredOrder]:
        """Ready orders whose hold-back time has passed: urgent first, then by
        priority, then oldest."""
        now = self._now()
        query = (
            select(orders)
            .where(orders.c.state == OrderState.READY)
            .where(or_(orders.c.not_before.is_(None), orders.c.not_before <= now))
            .order_by(orders.c.urgent.desc(), orders.c.priority.desc(), orders.c.created_at, orders.c.id)
            .limit(limit)
        )
        with self._reading() as conn:
            return [rows.stored_order(r) for r in conn.execute(query)]

    def due_for_keying(self, order_id: int) -> bool:
        """Whether the order is ready and its hold-back time has passed."""
        now = self._now()
        query = (
            select(orders.c.id)
            .where(orders.c.id == order_id, orders.c.state == OrderState.READY)
            .where(or_(orders.c.not_before.is_(None), orders.c.not_before <= now))
        )
        with self._reading() as conn:
            return conn.execute(query).first() is not None

    def begin_keying(self, order_id: int, *, holder: str) -> KeyingAttempt:
        """Move a ready order to ``keying`` and record the attempt, in one
        transaction. Raises ``InvalidTransition`` when the order is not ready
        (another worker took it) and ``DuplicateOrder`` when its customer and
        PO are already keyed by another order."""
        now = self._now()
        with self._writing() as conn:
            current = self._require_order(conn, order_id)
            if current.state != OrderState.READY:
                raise InvalidTransition(f"order {order_id} (expected in ready)", current.state, OrderState.KEYING)
            self._update_order(conn, now, current, {"state": OrderState.KEYING, "not_before": None}, OrderState.KEYING)
            number = conn.execute(
                select(func.coalesce(func.max(keying_attempts.c.attempt), 0)).where(keying_attempts.c.order_id == order_id)
            ).scalar_one() + 1
            key = idempotency_key(current)
            attempt_id = conn.execute(
                insert(keying_attempts)
                .values(order_id=order_id, attempt=number, idempotency_key=key, holder=holder, started_at=now)
                .returning(keying_attempts.c.id)
            ).scalar_one()
            self._log(conn, now, Entity.ORDER, order_id, current.state, OrderState.KEYING, "bot",
                      f"keying attempt {number} by {holder} (key {key})")
            return self._require_attempt(conn, attempt_id)

    def finish_keying(
        self,
        attempt_id: int,
        outcome: KeyingOutcome,
        *,
        to_state: OrderState | None,
        reason: str,
        portal_order_number: str | None = None,
        error: str | None = None,
        not_before: datetime | None = None,
        order: Order | None = None,
    ) -> KeyingAttempt:
        """Record an attempt's outcome and move its order (``to_state`` None:
        the order stays in ``keying``, for reconciliation), in one transaction."""
        now = self._now()
        with self._writing() as conn:
            attempt = self._require_attempt(conn, attempt_id)
            if attempt.outcome not in (None, KeyingOutcome.UNCERTAIN):
                raise InvalidTransition(f"keying attempt {attempt_id} (already {attempt.outcome})",
                                        OrderState.KEYING, to_state or OrderState.KEYING)
            conn.execute(
                update(keying_attempts)
                .where(keying_attempts.c.id == attempt_id)
                .values(outcome=outcome, finished_at=now, portal_order_number=portal_order_number, error=error)
            )
            current = self._require_order(conn, attempt.order_id)
            if to_state is None:
                self._log(conn, now, Entity.ORDER, current.id, current.state, current.state, "bot", reason)
            else:
                if current.state != OrderState.KEYING or to_state not in ORDER_TRANSITIONS[current.state]:
                    raise InvalidTransition(f"order {current.id}", current.state, to_state)
                values: dict[str, object] = {"state": to_state, "not_before": not_before}
                if portal_order_number is not None:
                    values["portal_order_number"] = portal_order_number
                if order is not None:
                    values.update(rows.order_columns(order))
                self._update_order(conn, now, current, values, to_state)
                self._log(conn, now, Entity.ORDER, current.id, current.state, to_state, "bot", reason)
            return self._require_attempt(conn, attempt_id)

    def keying_attempts(self, order_id: int) -> list[KeyingAttempt]:
        with self._reading() as conn:
            result = conn.execute(
                select(keying_attempts).where(keying_attempts.c.order_id == order_id).order_by(keying_attempts.c.attempt)
            )
            return [_attempt(r) for r in result]

    def unfinished_attempts(self, older_than: timedelta = timedelta(0)) -> list[KeyingAttempt]:
        """Attempts of orders still in ``keying`` with no outcome, or an
        uncertain one: a worker died, or the portal could not be searched. Only
        those started at least ``older_than`` ago (a live worker may hold the
        newer ones)."""
        cutoff = self._now() - older_than
        query = (
            select(keying_attempts)
            .join(orders, orders.c.id == keying_attempts.c.order_id)
            .where(orders.c.state == OrderState.KEYING)
            .where(or_(keying_attempts.c.outcome.is_(None), keying_attempts.c.outcome == KeyingOutcome.UNCERTAIN))
            .where(keying_attempts.c.started_at <= cutoff)
            .order_by(orders.c.urgent.desc(), keying_attempts.c.started_at)
        )
        with self._reading() as conn:
            latest: dict[int, KeyingAttempt] = {}
            for row in conn.execute(query):
                attempt = _attempt(row)
                if attempt.order_id not in latest or attempt.attempt > latest[attempt.order_id].attempt:
                    latest[attempt.order_id] = attempt
            return list(latest.values())

    def add_artifact(self, attempt_id: int, kind: str, name: str, data: bytes) -> int:
        now = self._now()
        with self._writing() as conn:
            attempt = self._require_attempt(conn, attempt_id)
            return conn.execute(
                insert(keying_artifacts)
                .values(order_id=attempt.order_id, attempt_id=attempt_id, kind=kind, name=name, data=data, created_at=now)
                .returning(keying_artifacts.c.id)
            ).scalar_one()

    def artifacts(self, order_id: int) -> list[KeyingArtifact]:
        with self._reading() as conn:
            result = conn.execute(
                select(keying_artifacts).where(keying_artifacts.c.order_id == order_id).order_by(keying_artifacts.c.id)
            )
            return [KeyingArtifact(r.id, r.order_id, r.attempt_id, r.kind, r.name, r.data, r.created_at) for r in result]

    def prune_artifacts(self, older_than: timedelta) -> int:
        """Delete screenshots and traces older than ``older_than``; how many went."""
        cutoff = self._now() - older_than
        with self._writing() as conn:
            return conn.execute(delete(keying_artifacts).where(keying_artifacts.c.created_at < cutoff)).rowcount

    def _require_attempt(self, conn: Connection, attempt_id: int) -> KeyingAttempt:
        row = conn.execute(select(keying_attempts).where(keying_attempts.c.id == attempt_id)).one_or_none()
        if row is None:
            raise KeyError(f"no keying attempt {attempt_id}")
        return _attempt(row)
