"""The persistent store: message ledger, orders and their state machine, the
event log, leases, and outgoing mail (``MAIL_TRANSITIONS``; a mail's changes
are written to its order's event log).

Every public method is one transaction. Rules that must hold even against a
bug or a hand-written UPDATE live in the database (see the migration
``0001_initial``): one keyed order per (customer, PO), append-only events.
The code adds the state machine (``bot.model.ORDER_TRANSITIONS``) and
optimistic locking: an order row carries a ``version`` and every change is an
UPDATE conditional on the version it read, so of two concurrent changes from
the same state exactly one wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Table,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

from bot.errors import DuplicateOrder, InvalidTransition
from bot.model import (
    KEYED_STATES,
    ORDER_TRANSITIONS,
    MessageStatus,
    Order,
    OrderState,
)
from bot.store import rows
from bot.store.engine import (
    DEFAULT_BUSY_TIMEOUT_SECONDS,
    SQLITE_BEGIN,
    create_store_engine,
    migrate,
    parse_url,
    safe_url,
    translated_errors,
)
from bot.store.keying import KeyingRecords
from bot.store.records import (
    MAIL_ATTENTION,
    MAIL_TRANSITIONS,
    Entity,
    Event,
    LedgerEntry,
    MailKind,
    MailStatus,
    MessageLocation,
    OutgoingMail,
    StoredDocument,
    StoredOrder,
)
from bot.store.report_records import ReportRecords
from bot.store.schema import (
    KEYED_ORDER_INDEX,
    blobs,
    documents,
    events,
    leases,
    message_locations,
    messages,
    orders,
    outgoing_mail,
)

Clock = Callable[[], datetime]

# An order in one of these states is in the portal or closed: a correction of
# its content (update_order) is refused.
FROZEN_STATES = KEYED_STATES | {OrderState.REJECTED}

# One order's outcome for save_outcome: the order, its state, why it is there.
Outcome = tuple[Order, OrderState, str | None]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _po_key(po_number: Any) -> Any:
    """How a PO number is compared: trimmed, case-folded (the index uses the same)."""
    return func.lower(func.trim(po_number))


class Store(KeyingRecords, ReportRecords):
    """Open with ``Store.open(url)``; close with ``close()`` or a ``with`` block."""

    def __init__(self, engine: Engine, url: URL, clock: Clock) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._url = url
        self._clock = clock

    @classmethod
    def open(
        cls,
        url: str,
        *,
        clock: Clock = utc_now,
        busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
    ) -> Store:
        """Connect and migrate the database to the newest schema.

        ``clock`` gives every timestamp the store writes (and the time leases
        expire against); ``busy_timeout_seconds`` is how long SQLite waits for
        another writer. Raises ``ConfigError`` for a URL or database that
        cannot work, ``StoreBusy`` for one that is locked or unreachable now.
        """
        parsed = parse_url(url)
        engine = create_store_engine(parsed, busy_timeout_seconds=busy_timeout_seconds)
        try:
            with translated_errors(parsed, opening=True):
                migrate(engine, parsed)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, parsed, clock)

    @property
    def url(self) -> str:
        """The database URL, password masked."""
        return safe_url(self._url)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # --- transactions -------------------------------------------------------

    def transaction(self, *, write: bool) -> AbstractContextManager[Connection]:
        """A transaction on the store's own engine, for modules that keep their
        tables beside the store's (the review workbench): one pool, one writer
        queue on SQLite, and the same error translation (``StoreBusy``)."""
        return self._writing() if write else self._reading()

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with translated_errors(self._url), self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with translated_errors(self._url), self._writer.begin() as conn:
            yield conn

    def now(self) -> datetime:
        """The store's clock: the time it writes and judges leases by."""
        return self._now()

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the store's clock must return timezone-aware datetimes")
        return now

    # --- message ledger -----------------------------------------------------

    def seen(self, dedup_key: str) -> LedgerEntry | None:
        """The ledger entry for this key, or None if the message is new."""
        with self._reading() as conn:
            row = self._message_by_key(conn, dedup_key)
        return rows.ledger_entry(row) if row is not None else None

    def record_message(
        self,
        *,
        message_id: str,
        sha256: str,
        dedup_key: str,
        raw: bytes,
        origin: str,
        name: str,
        status: MessageStatus = MessageStatus.RECEIVED,
        reason: str | None = None,
        location: MessageLocation | None = None,
        full_size: int | None = None,
    ) -> LedgerEntry:
        """Enter a message in the ledger with its raw bytes, once per ``dedup_key``.
        ``full_size``: ``raw`` is only the header block of a message this big
        (one too big to download).

        For a key already there the existing entry is returned unchanged and
        only ``location`` is added: the same message seen in another folder.
        """
        if hashlib.sha256(raw).hexdigest() != sha256:
            raise ValueError(f"{name}: sha256 {sha256!r} is not the hash of the raw bytes")
        now = self._now()
        with self._writing() as conn:
            row = self._message_by_key(conn, dedup_key)
            if row is None:
                self._put_blob(conn, sha256, raw)
                new_id = conn.execute(
                    _insert(conn, messages)
                    .values(
                        message_id=message_id,
                        sha256=sha256,
                        dedup_key=dedup_key,
                        origin=origin,
                        name=name,
                        status=status,
                        reason=reason,
                        received_at=now,
                        updated_at=now,
                        full_size=full_size,
                    )
                    .on_conflict_do_nothing(index_elements=[messages.c.dedup_key])
                    .returning(messages.c.id)
                ).scalar_one_or_none()
                if new_id is not None:  # else another process entered it just now
                    self._log(conn, now, Entity.MESSAGE, new_id, None, status, "bot", reason)
                row = self._message_by_key(conn, dedup_key)
                assert row is not None
            if location is not None:
                self._add_location(conn, now, row.id, location)
        return rows.ledger_entry(row)

    def add_location(
        self, ledger_id: int, account: str, folder: str, uidvalidity: int, uid: int
    ) -> None:
        """Note another place the message was seen. A location already known
        (to this or another entry) is left as it is."""
        with self._writing() as conn:
            self._require_message(conn, ledger_id)
            location = MessageLocation(account, folder, uidvalidity, uid)
            self._add_location(conn, self._now(), ledger_id, location)

    def locations(self, ledger_id: int) -> list[MessageLocation]:
        with self._reading() as conn:
            result = conn.execute(
                select(message_locations)
                .where(message_locations.c.ledger_id == ledger_id)
                .order_by(message_locations.c.id)
            )
            return [MessageLocation(r.account, r.folder, r.uidvalidity, r.uid) for r in result]

    def find_by_location(
        self, account: str, folder: str, uidvalidity: int, uid: int
    ) -> LedgerEntry | None:
        query = (
            select(messages)
            .join(message_locations, message_locations.c.ledger_id == messages.c.id)
            .where(
                message_locations.c.account == account,
                message_locations.c.folder == folder,
                message_locations.c.uidvalidity == uidvalidity,
                message_locations.c.uid == uid,
            )
        )
        with self._reading() as conn:
            row = conn.execute(query).one_or_none()
        return rows.ledger_entry(row) if row is not None else None

    def set_message_status(
        self,
        ledger_id: int,
        status: MessageStatus,
        *,
        reason: str | None = None,
        actor: str = "bot",
        expected_from: MessageStatus | None = None,
    ) -> LedgerEntry:
        """Set the message's status. With ``expected_from``, only if the message
        is in that status: else ``InvalidTransition`` (another worker decided it)."""
        with self._writing() as conn:
            self._set_message_status(conn, self._now(), ledger_id, status, reason, actor, expected_from)
            return rows.ledger_entry(self._require_message(conn, ledger_id))

    def begin_deciding(self, ledger_id: int) -> int:
        """Count one more try at deciding the ``received`` message ``ledger_id``
        and return the count, this try included; 0 if it is decided already.
        A try that a transient error ended is given back (``end_deciding``), so
        before this one the count is how often a process died deciding it."""
        with self._writing() as conn:
            count = conn.execute(
                update(messages)
                .where(messages.c.id == ledger_id, messages.c.status == MessageStatus.RECEIVED)
                .values(attempts=messages.c.attempts + 1)
                .returning(messages.c.attempts)
            ).scalar_one_or_none()
            if count is None:
                self._require_message(conn, ledger_id)
            return count or 0

    def end_deciding(self, ledger_id: int) -> None:
        """Give back the try ``begin_deciding`` counted: it ended without a decision
        (a transient error) but the process lived."""
        with self._writing() as conn:
            conn.execute(
                update(messages)
                .where(messages.c.id == ledger_id, messages.c.attempts > 0)
                .values(attempts=messages.c.attempts - 1)
            )

    def message(self, ledger_id: int) -> LedgerEntry:
        """The ledger entry; KeyError if there is none with this id."""
        with self._reading() as conn:
            return rows.ledger_entry(self._require_message(conn, ledger_id))

    def raw_bytes(self, sha256: str) -> bytes:
        """The bytes of a message or document; KeyError if unknown."""
        with self._reading() as conn:
            data = conn.execute(
                select(blobs.c.data).where(blobs.c.sha256 == sha256)
            ).scalar_one_or_none()
        if data is None:
            raise KeyError(f"no blob {sha256}")
        return bytes(data)

    def add_document(self, ledger_id: int, name: str, content_type: str, data: bytes) -> int:
        """Keep an attachment of a ledger entry; returns the document id."""
        sha256 = hashlib.sha256(data).hexdigest()
        with self._writing() as conn:
            self._require_message(conn, ledger_id)
            self._put_blob(conn, sha256, data)
            doc_id: int = conn.execute(
                insert(documents)
                .values(
                    ledger_id=ledger_id,
                    name=name,
                    content_type=content_type,
                    sha256=sha256,
                    size=len(data),
                )
                .returning(documents.c.id)
            ).scalar_one()
        return doc_id

    def documents(self, ledger_id: int) -> list[StoredDocument]:
        with self._reading() as conn:
            result = conn.execute(
                select(documents).where(documents.c.ledger_id == ledger_id).order_by(documents.c.id)
            )
            return [rows.stored_document(r) for r in result]

    def messages(
        self, status: MessageStatus | None = None, limit: int | None = None, *, newest_first: bool = False
    ) -> list[LedgerEntry]:
        """Ledger entries, oldest first (or newest first)."""
        query = select(messages).order_by(messages.c.id.desc() if newest_first else messages.c.id).limit(limit)
        if status is not None:
            query = query.where(messages.c.status == status)
        with self._reading() as conn:
            return [rows.ledger_entry(r) for r in conn.execute(query)]

    def message_counts(self) -> dict[MessageStatus, int]:
        """How many ledger entries are in each status (every status present)."""
        counts = dict.fromkeys(MessageStatus, 0)
        with self._reading() as conn:
            for status, n in conn.execute(
                select(messages.c.status, func.count()).group_by(messages.c.status)
            ):
                counts[MessageStatus(status)] = n
        return counts

    # --- orders -------------------------------------------------------------

    def add_order(
        self,
        ledger_id: int,
        order: Order,
        state: OrderState,
        *,
        actor: str = "bot",
        reason: str | None = None,
        priority: int = 0,
    ) -> StoredOrder:
        """Store an order found in a ledger entry, in the state the pipeline got
        it to. Raises ``DuplicateOrder`` if ``state`` is a keyed state and its
        (customer, PO) is already keyed."""
        with self._writing() as conn:
            order_id = self._insert_order(
                conn, self._now(), ledger_id, order, state, actor, reason, priority
            )
            return self._require_order(conn, order_id)

    def save_outcome(
        self,
        ledger_id: int,
        orders: Sequence[Outcome],
        message_status: MessageStatus,
        reason: str | None = None,
        *,
        actor: str = "bot",
        priorities: Sequence[int] | None = None,
        expected_from: MessageStatus | None = None,
    ) -> list[StoredOrder]:
        """Store every order of a message and the message's new status, all or
        nothing: if one order cannot be stored, none is and the status stays.
        ``priorities`` (one per order, higher first) orders the work queues.
        With ``expected_from`` the message must be in that status, checked and
        changed first in the transaction: of two processes deciding one message
        at once, the second gets ``InvalidTransition`` and stores nothing."""
        now = self._now()
        if priorities is not None and len(priorities) != len(orders):
            raise ValueError("one priority per order")
        ranks = priorities if priorities is not None else [0] * len(orders)
        with self._writing() as conn:
            self._set_message_status(conn, now, ledger_id, message_status, reason, actor, expected_from)
            ids = [
                self._insert_order(conn, now, ledger_id, order, state, actor, why, rank)
                for (order, state, why), rank in zip(orders, ranks)
            ]
            return [self._require_order(conn, order_id) for order_id in ids]

    def get_order(self, order_id: int) -> StoredOrder:
        """The order; KeyError if there is none with this id."""
        with self._reading() as conn:
            return self._require_order(conn, order_id)

    def transition(
        self,
        order_id: int,
        to_state: OrderState,
        *,
        actor: str,
        reason: str | None = None,
        expected_from: OrderState | None = None,
        portal_order_number: str | None = None,
        order: Order | None = None,
    ) -> StoredOrder:
        """Move an order to ``to_state`` and log the event, in one transaction.

        Raises ``InvalidTransition`` if ``ORDER_TRANSITIONS`` forbids the step,
        if the order is not in ``expected_from``, or if another process changed
        the order meanwhile (the loser of a race); ``DuplicateOrder`` if the
        order would become the second keyed one of its (customer, PO).
        ``order`` replaces the stored content, ``portal_order_number`` is kept.
        """
        now = self._now()
        with self._writing() as conn:
            current = self._require_order(conn, order_id)
            if expected_from is not None and current.state != expected_from:
                raise InvalidTransition(
                    f"order {order_id} (expected in {expected_from!s})", current.state, to_state
                )
            if to_state not in ORDER_TRANSITIONS[current.state]:
                raise InvalidTransition(f"order {order_id}", current.state, to_state)
            values: dict[str, object] = {"state": to_state}
            if portal_order_number is not None:
                values["portal_order_number"] = portal_order_number
            if order is not None:
                values.update(rows.order_columns(order))
            self._update_order(conn, now, current, values, to_state)
            self._log(conn, now, Entity.ORDER, order_id, current.state, to_state, actor, reason)
            return self._require_order(conn, order_id)

    def update_order(
        self, order_id: int, order: Order, *, actor: str, reason: str | None = None
    ) -> StoredOrder:
        """Replace an order's content (a handler's correction); the state stays
        and the event goes from it to itself. Refused (``InvalidTransition``)
        for an order that is keyed, being keyed or rejected."""
        now = self._now()
        with self._writing() as conn:
            current = self._require_order(conn, order_id)
            if current.state in FROZEN_STATES:
                raise InvalidTransition(
                    f"order {order_id} (cannot be edited)", current.state, current.state
                )
            self._update_order(conn, now, current, rows.order_columns(order), current.state)
            self._log(
                conn, now, Entity.ORDER, order_id, current.state, current.state, actor, reason
            )
            return self._require_order(conn, order_id)

    def orders(
        self, state: OrderState | None = None, limit: int | None = None
    ) -> list[StoredOrder]:
        """Orders in queue order: urgent first, then higher priority, then oldest."""
        query = (
            select(orders)
            .order_by(
                orders.c.urgent.desc(),
                orders.c.priority.desc(),
                orders.c.created_at,
                orders.c.id,
            )
            .limit(limit)
        )
        if state is not None:
            query = query.where(orders.c.state == state)
        with self._reading() as conn:
            return [rows.stored_order(r) for r in conn.execute(query)]

    def customer_order_versions(self, customer_id: str, states: Sequence[OrderState]) -> dict[int, int]:
        """The ids of the customer's orders in ``states``, each with its version
        (bumped on every change): what a cache of them needs to read afresh."""
        query = select(orders.c.id, orders.c.version).where(
            orders.c.customer_id == customer_id, orders.c.state.in_([OrderState(s) for s in states])
        )
        with self._reading() as conn:
            return {order_id: version for order_id, version in conn.execute(query)}

    def orders_by_id(self, order_ids: Sequence[int]) -> list[StoredOrder]:
        """The orders with these ids (those that exist), in id order."""
        found: list[StoredOrder] = []
        with self._reading() as conn:
            for start in range(0, len(order_ids), 500):
                chunk = list(order_ids[start:start + 500])
                found.extend(rows.stored_order(r) for r in conn.execute(select(orders).where(orders.c.id.in_(chunk))))
        return sorted(found, key=lambda o: o.id)

    def find_orders(
        self,
        customer_id: str,
        po_number: str,
        *,
        exclude_states: Sequence[OrderState] = (OrderState.REJECTED, OrderState.FAILED),
    ) -> list[StoredOrder]:
        """The customer's orders with this PO number (trimmed, any case), oldest first."""
        query = (
            select(orders)
            .where(
                orders.c.customer_id == customer_id,
                _po_key(orders.c.po_number) == _po_key(po_number),
            )
            .order_by(orders.c.id)
        )
        if exclude_states:
            query = query.where(orders.c.state.not_in(list(exclude_states)))
        with self._reading() as conn:
            return [rows.stored_order(r) for r in conn.execute(query)]

    def order_counts(self) -> dict[OrderState, int]:
        """How many orders are in each state (every state present)."""
        counts = dict.fromkeys(OrderState, 0)
        with self._reading() as conn:
            for state, n in conn.execute(
                select(orders.c.state, func.count()).group_by(orders.c.state)
            ):
                counts[OrderState(state)] = n
        return counts

    def mail_counts(self) -> dict[MailStatus, int]:
        """How many outgoing mails are in each status (every status present)."""
        counts = dict.fromkeys(MailStatus, 0)
        with self._reading() as conn:
            for status, n in conn.execute(
                select(outgoing_mail.c.status, func.count()).group_by(outgoing_mail.c.status)
            ):
                counts[MailStatus(status)] = n
        return counts

    # --- events -------------------------------------------------------------

    def events(self, entity: Entity | None = None, entity_id: int | None = None) -> list[Event]:
        """The event log, oldest first, optionally of one entity."""
        query = select(events).order_by(events.c.id)
        if entity is not None:
            query = query.where(events.c.entity == Entity(entity))
        if entity_id is not None:
            query = query.where(events.c.entity_id == entity_id)
        with self._reading() as conn:
            return [rows.event(r) for r in conn.execute(query)]

    # --- leases -------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``ttl_seconds``. True if
        ``holder`` has it now: it was free, expired, or already ``holder``'s."""
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
        now = self._now()
        with self._writing() as conn:
            stmt = _insert(conn, leases).values(
                name=name, holder=holder, expires_at=now + timedelta(seconds=ttl_seconds)
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=[leases.c.name],
                set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
                where=or_(leases.c.holder == holder, leases.c.expires_at <= now),
            )
            # A row comes back if it was inserted or updated, none if the WHERE said no.
            return conn.execute(stmt.returning(leases.c.name)).first() is not None

    def lease_expiry(self, name: str) -> datetime | None:
        """When the lease ``name`` expires (or expired: its holder stopped
        renewing it); None when no one holds it or it was released."""
        with self._reading() as conn:
            return conn.execute(select(leases.c.expires_at).where(leases.c.name == name)).scalar_one_or_none()

    def lease_lapsed(self, name: str) -> bool:
        """Whether the lease ``name`` exists and has expired."""
        expires = self.lease_expiry(name)
        return expires is not None and expires <= self._now()

    def release_dead_leases(self, is_dead: Callable[[str], bool]) -> list[str]:
        """Release every lease whose holder ``is_dead`` says is gone (a process
        killed before it could release them); returns their names."""
        with self._reading() as conn:
            held = conn.execute(select(leases.c.name, leases.c.holder)).all()
        dead = [(name, holder) for name, holder in held if is_dead(holder)]
        released = []
        with self._writing() as conn:
            for name, holder in dead:
                # Still that holder's: a lease taken over meanwhile stays with its new holder.
                if conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder)).rowcount:
                    released.append(name)
        return released

    def prune_lapsed_leases(self, prefix: str, lapsed_for: timedelta) -> list[str]:
        """Delete the leases named ``prefix``... that expired more than
        ``lapsed_for`` ago (the heartbeats of workers long gone); their names."""
        before = self._now() - lapsed_for
        with self._writing() as conn:
            names = conn.execute(
                select(leases.c.name).where(leases.c.name.startswith(prefix, autoescape=True), leases.c.expires_at < before)
            ).scalars().all()
            if names:
                conn.execute(delete(leases).where(leases.c.name.in_(names), leases.c.expires_at < before))
        return list(names)

    def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease up; False if ``holder`` did not hold it."""
        with self._writing() as conn:
            result = conn.execute(
                delete(leases).where(leases.c.name == name, leases.c.holder == holder)
            )
            return result.rowcount == 1

    # --- outgoing mail ------------------------------------------------------

    def queue_mail(
        self,
        order_id: int,
        kind: MailKind,
        *,
        status: MailStatus = MailStatus.QUEUED,
        message_id: str | None = None,
        sender: str | None = None,
        recipient: str | None = None,
        subject: str | None = None,
        language: str | None = None,
        raw: bytes | None = None,
        note: str | None = None,
        actor: str = "bot",
    ) -> tuple[OutgoingMail, bool]:
        """Record the order's mail of ``kind``, once per order and kind.

        Returns ``(mail, True)`` when it was recorded now, and ``(the mail
        already there, False)`` when the order has one of this kind, whatever
        its status: nothing changes then. ``status`` is ``queued`` (due at
        once; needs ``raw``, ``sender`` and ``recipient``), ``suppressed``
        (deliberately not sent) or ``failed`` (could not be composed); ``note``
        says why. The order's event log notes the new mail.
        """
        status = MailStatus(status)
        kind = MailKind(kind)
        if status not in MAIL_TRANSITIONS[None]:
            raise InvalidTransition(f"new {kind} of order {order_id}", None, status)
        if status is MailStatus.QUEUED and (raw is None or not sender or not recipient):
            raise ValueError("a queued mail needs its raw bytes, a sender and a recipient")
        now = self._now()
        with self._writing() as conn:
            order_state = self._require_order_state(conn, order_id)
            new_id = conn.execute(
                _insert(conn, outgoing_mail)
                .values(
                    order_id=order_id,
                    kind=kind,
                    status=status,
                    message_id=message_id,
                    sender=sender,
                    recipient=recipient,
                    subject=subject,
                    language=language,
                    raw=raw,
                    attempts=0,
                    next_attempt_at=now if status is MailStatus.QUEUED else None,
                    last_error=None,
                    note=note,
                    created_at=now,
                    updated_at=now,
                    sent_at=None,
                )
                .on_conflict_do_nothing(
                    index_elements=[outgoing_mail.c.order_id, outgoing_mail.c.kind]
                )
                .returning(outgoing_mail.c.id)
            ).scalar_one_or_none()
            if new_id is not None:
                self._log(
                    conn, now, Entity.ORDER, order_id, order_state, order_state, actor,
                    _mail_event(kind, status, recipient, note),
                )
            row = conn.execute(
                select(outgoing_mail).where(
                    outgoing_mail.c.order_id == order_id, outgoing_mail.c.kind == kind
                )
            ).one()
        return rows.outgoing_mail(row), new_id is not None

    def outgoing_mail(self, mail_id: int) -> OutgoingMail:
        """The mail; KeyError if there is none with this id."""
        with self._reading() as conn:
            return rows.outgoing_mail(self._require_mail(conn, mail_id))

    def outgoing_mail_for(self, order_id: int, kind: MailKind) -> OutgoingMail | None:
        """The order's mail of this kind, or None if it has none yet."""
        with self._reading() as conn:
            row = conn.execute(
                select(outgoing_mail).where(
                    outgoing_mail.c.order_id == order_id, outgoing_mail.c.kind == MailKind(kind)
                )
            ).one_or_none()
        return rows.outgoing_mail(row) if row is not None else None

    def outgoing_mails(
        self,
        status: MailStatus | Sequence[MailStatus] | None = None,
        *,
        order_id: int | None = None,
        kind: MailKind | None = None,
        limit: int | None = None,
    ) -> list[OutgoingMail]:
        """Outgoing mail, oldest first. ``status=MAIL_ATTENTION`` lists what a
        person must look at (uncertain and failed)."""
        query = select(outgoing_mail).order_by(outgoing_mail.c.id).limit(limit)
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            query = query.where(outgoing_mail.c.status.in_([MailStatus(s) for s in wanted]))
        if order_id is not None:
            query = query.where(outgoing_mail.c.order_id == order_id)
        if kind is not None:
            query = query.where(outgoing_mail.c.kind == MailKind(kind))
        with self._reading() as conn:
            return [rows.outgoing_mail(r) for r in conn.execute(query)]

    def due_mails(self, limit: int | None = None) -> list[OutgoingMail]:
        """Queued mail whose next attempt is due now, longest waiting first."""
        query = (
            select(outgoing_mail)
            .where(
                outgoing_mail.c.status == MailStatus.QUEUED,
                outgoing_mail.c.next_attempt_at <= self._now(),
            )
            .order_by(outgoing_mail.c.next_attempt_at, outgoing_mail.c.id)
            .limit(limit)
        )
        with self._reading() as conn:
            return [rows.outgoing_mail(r) for r in conn.execute(query)]

    def claim_mail(self, mail_id: int, holder: str | None = None) -> OutgoingMail | None:
        """Mark a due queued mail ``sending`` (by ``holder``) and count the
        attempt, committed before anything is sent. None if it is not queued
        and due any more (another run claimed it, or a person moved it)."""
        now = self._now()
        with self._writing() as conn:
            result = conn.execute(
                update(outgoing_mail)
                .where(
                    outgoing_mail.c.id == mail_id,
                    outgoing_mail.c.status == MailStatus.QUEUED,
                    outgoing_mail.c.next_attempt_at <= now,
                )
                .values(
                    status=MailStatus.SENDING,
                    attempts=outgoing_mail.c.attempts + 1,
                    updated_at=now,
                    claimed_by=holder,
                )
            )
            if result.rowcount != 1:
                return None
            return rows.outgoing_mail(self._require_mail(conn, mail_id))

    def finish_mail(
        self,
        mail_id: int,
        status: MailStatus,
        *,
        error: str | None = None,
        retry_after: timedelta | None = None,
        counted: bool = True,
        actor: str = "bot",
    ) -> OutgoingMail:
        """Record the outcome of an attempt: a ``sending`` mail becomes ``sent``,
        ``queued`` again (due ``retry_after`` from now), ``failed`` or ``uncertain``, with
        ``error`` (the server's reply). ``counted=False`` takes the attempt back
        (nothing was tried: the setup is broken, not the mail). Raises
        ``InvalidTransition`` if the mail is not ``sending`` (someone else
        settled it meanwhile)."""
        status = MailStatus(status)
        if status not in MAIL_TRANSITIONS[MailStatus.SENDING]:
            raise InvalidTransition(f"mail {mail_id}", MailStatus.SENDING, status)
        if status is MailStatus.QUEUED and retry_after is None:
            raise ValueError("a mail queued again needs retry_after")
        now = self._now()
        retry_at = now + retry_after if retry_after is not None else None
        values: dict[str, object] = {
            "status": status,
            "updated_at": now,
            "last_error": error,
            "next_attempt_at": retry_at if status is MailStatus.QUEUED else None,
        }
        if not counted:
            values["attempts"] = outgoing_mail.c.attempts - 1
        if status is MailStatus.SENT:
            values["sent_at"] = now
        with self._writing() as conn:
            current = rows.outgoing_mail(self._require_mail(conn, mail_id))
            result = conn.execute(
                update(outgoing_mail)
                .where(outgoing_mail.c.id == mail_id, outgoing_mail.c.status == MailStatus.SENDING)
                .values(**values)
            )
            if result.rowcount != 1:
                raise InvalidTransition(f"mail {mail_id}", current.status, status)
            detail = error
            if status is MailStatus.QUEUED:
                assert retry_at is not None
                detail = f"attempt {current.attempts} deferred, next at {retry_at:%Y-%m-%d %H:%M} UTC: {error}"
            self._log_mail(conn, now, current, status, actor, detail)
            return rows.outgoing_mail(self._require_mail(conn, mail_id))

    def mark_interrupted_mails(
        self,
        *,
        actor: str = "bot",
        interrupted: Callable[[str, datetime], bool] | None = None,
    ) -> list[OutgoingMail]:
        """Every mail left ``sending`` becomes ``uncertain``: it belongs to a run
        that stopped mid-send, and the customer may or may not have it, so it
        is never sent again on its own.

        Without ``interrupted`` call this only while no one is sending (holding
        the delivery lease). With it, a mail claimed by a holder is taken for
        interrupted only when ``interrupted(holder, claimed_at)`` says so; one
        claimed by no recorded holder always is."""
        now = self._now()
        why = (
            "found in 'sending' when a delivery run started: the run that sent it "
            "stopped before the server's answer was recorded"
        )
        sending = select(outgoing_mail.c.id, outgoing_mail.c.claimed_by, outgoing_mail.c.updated_at).where(
            outgoing_mail.c.status == MailStatus.SENDING
        )
        with self._reading() as conn:
            claims = conn.execute(sending.order_by(outgoing_mail.c.id)).all()
        # Asked outside the write transaction: the predicate may read the store.
        stuck = [
            (c.id, c.updated_at)
            for c in claims
            if interrupted is None or c.claimed_by is None or interrupted(c.claimed_by, c.updated_at)
        ]
        changed = []
        with self._writing() as conn:
            for mail_id, claimed_at in stuck:
                current = rows.outgoing_mail(self._require_mail(conn, mail_id))
                result = conn.execute(
                    update(outgoing_mail)
                    .where(
                        outgoing_mail.c.id == mail_id,
                        outgoing_mail.c.status == MailStatus.SENDING,
                        outgoing_mail.c.updated_at == claimed_at,  # not finished or claimed afresh meanwhile
                    )
                    .values(status=MailStatus.UNCERTAIN, last_error=why, updated_at=now)
                )
                if result.rowcount != 1:
                    continue
                self._log_mail(conn, now, current, MailStatus.UNCERTAIN, actor, why)
                changed.append(rows.outgoing_mail(self._require_mail(conn, mail_id)))
        return changed

    def settle_mail(
        self, mail_id: int, status: MailStatus, *, actor: str, reason: str
    ) -> OutgoingMail:
        """A person's decision on an uncertain or failed mail: ``sent`` (the
        customer has it), ``failed`` (they do not; it stays unsent) or
        ``queued`` (send it again, now, with a fresh count of attempts).
        ``reason`` is required and kept as the mail's note."""
        status = MailStatus(status)
        if not reason.strip():
            raise ValueError("say why: a person's decision on a mail needs a reason")
        now = self._now()
        with self._writing() as conn:
            current = rows.outgoing_mail(self._require_mail(conn, mail_id))
            if current.status not in MAIL_ATTENTION or status not in MAIL_TRANSITIONS[current.status]:
                raise InvalidTransition(f"mail {mail_id}", current.status, status)
            if status is MailStatus.QUEUED and current.raw is None:
                raise InvalidTransition(f"mail {mail_id} (never composed)", current.status, status)
            values: dict[str, object] = {"status": status, "note": reason, "updated_at": now}
            if status is MailStatus.QUEUED:
                values.update(next_attempt_at=now, attempts=0)
            if status is MailStatus.SENT:
                values["sent_at"] = now
            result = conn.execute(
                update(outgoing_mail)
                .where(outgoing_mail.c.id == mail_id, outgoing_mail.c.status == current.status)
                .values(**values)
            )
            if result.rowcount != 1:
                raise InvalidTransition(f"mail {mail_id} (changed meanwhile)", current.status, status)
            self._log_mail(conn, now, current, status, actor, f"{reason} (was {current.status})")
            return rows.outgoing_mail(self._require_mail(conn, mail_id))

    # --- inside a transaction -----------------------------------------------

    def _log(
        self,
        conn: Connection,
        now: datetime,
        entity: Entity,
        entity_id: int,
        from_state: str | None,
        to_state: str,
        actor: str,
        reason: str | None,
    ) -> None:
        conn.execute(
            insert(events).values(
                at=now,
                entity=entity,
                entity_id=entity_id,
                from_state=from_state,
                to_state=to_state,
                actor=actor,
                reason=reason,
            )
        )

    def _put_blob(self, conn: Connection, sha256: str, data: bytes) -> None:
        conn.execute(
            _insert(conn, blobs)
            .values(sha256=sha256, size=len(data), data=data)
            .on_conflict_do_nothing(index_elements=[blobs.c.sha256])
        )

    def _message_by_key(self, conn: Connection, dedup_key: str) -> Row[Any] | None:
        return conn.execute(select(messages).where(messages.c.dedup_key == dedup_key)).one_or_none()

    def _require_message(self, conn: Connection, ledger_id: int) -> Row[Any]:
        row = conn.execute(select(messages).where(messages.c.id == ledger_id)).one_or_none()
        if row is None:
            raise KeyError(f"no ledger entry {ledger_id}")
        return row

    def _add_location(
        self, conn: Connection, now: datetime, ledger_id: int, location: MessageLocation
    ) -> None:
        conn.execute(
            _insert(conn, message_locations)
            .values(
                ledger_id=ledger_id,
                account=location.account,
                folder=location.folder,
                uidvalidity=location.uidvalidity,
                uid=location.uid,
                seen_at=now,
            )
            .on_conflict_do_nothing(
                index_elements=[
                    message_locations.c.account,
                    message_locations.c.folder,
                    message_locations.c.uidvalidity,
                    message_locations.c.uid,
                ]
            )
        )

    def _set_message_status(
        self,
        conn: Connection,
        now: datetime,
        ledger_id: int,
        status: MessageStatus,
        reason: str | None,
        actor: str,
        expected_from: MessageStatus | None = None,
    ) -> None:
        current = self._require_message(conn, ledger_id)
        query = update(messages).where(messages.c.id == ledger_id)
        if expected_from is not None:
            # The row lock of this UPDATE makes a concurrent decider wait, then find the status changed.
            query = query.where(messages.c.status == expected_from)
        if conn.execute(query.values(status=status, reason=reason, updated_at=now)).rowcount != 1:
            now_in = conn.execute(select(messages.c.status).where(messages.c.id == ledger_id)).scalar_one()
            raise InvalidTransition(f"message {ledger_id} (expected in {expected_from!s})", now_in, status)
        self._log(conn, now, Entity.MESSAGE, ledger_id, current.status, status, actor, reason)

    def _require_mail(self, conn: Connection, mail_id: int) -> Row[Any]:
        row = conn.execute(select(outgoing_mail).where(outgoing_mail.c.id == mail_id)).one_or_none()
        if row is None:
            raise KeyError(f"no outgoing mail {mail_id}")
        return row

    def _require_order_state(self, conn: Connection, order_id: int) -> OrderState:
        state = conn.execute(select(orders.c.state).where(orders.c.id == order_id)).scalar_one_or_none()
        if state is None:
            raise KeyError(f"no order {order_id}")
        return OrderState(state)

    def _log_mail(
        self,
        conn: Connection,
        now: datetime,
        mail: OutgoingMail,
        status: MailStatus,
        actor: str,
        detail: str | None,
    ) -> None:
        """A mail's change, in its order's event log (the state stays)."""
        state = self._require_order_state(conn, mail.order_id)
        reason = _mail_event(mail.kind, status, mail.recipient, detail)
        self._log(conn, now, Entity.ORDER, mail.order_id, state, state, actor, reason)


    def _require_order(self, conn: Connection, order_id: int) -> StoredOrder:
        row = conn.execute(select(orders).where(orders.c.id == order_id)).one_or_none()
        if row is None:
            raise KeyError(f"no order {order_id}")
        return rows.stored_order(row)

    def _insert_order(
        self,
        conn: Connection,
        now: datetime,
        ledger_id: int,
        order: Order,
        state: OrderState,
        actor: str,
        reason: str | None,
        priority: int,
    ) -> int:
        self._require_message(conn, ledger_id)
        statement = (
            insert(orders)
            .values(
                ledger_id=ledger_id,
                state=OrderState(state),
                priority=priority,
                portal_order_number=None,
                created_at=now,
                updated_at=now,
                version=1,
                **rows.order_columns(order),
            )
            .returning(orders.c.id)
        )
        with _keyed_conflicts_as_duplicates(order.customer_id.value, order.po_number.value):
            order_id: int = conn.execute(statement).scalar_one()
        self._log(conn, now, Entity.ORDER, order_id, None, state, actor, reason)
        return order_id

    def _update_order(
        self,
        conn: Connection,
        now: datetime,
        current: StoredOrder,
        values: dict[str, object],
        to_state: OrderState,
    ) -> None:
        """UPDATE the row if it is still at the version ``current`` was read at."""
        statement = (
            update(orders)
            .where(orders.c.id == current.id, orders.c.version == current.version)
            .values(version=current.version + 1, updated_at=now, **values)
        )
        customer_id = values.get("customer_id", current.customer_id)
        po_number = values.get("po_number", current.po_number)
        with _keyed_conflicts_as_duplicates(customer_id, po_number):
            result = conn.execute(statement)
        if result.rowcount != 1:
            fresh = self._require_order(conn, current.id)
            raise InvalidTransition(
                f"order {current.id} (changed by someone else meanwhile)", fresh.state, to_state
            )


def _mail_event(kind: MailKind, status: MailStatus, recipient: str | None, detail: str | None) -> str:
    """How a mail's change reads in its order's event log."""
    to = f" to {recipient}" if recipient else ""
    why = f": {detail}" if detail else ""
    if status is MailStatus.QUEUED:
        return f"{kind}{to} queued{why}"
    if status is MailStatus.SENT:
        return f"{kind} sent{to}{why}"
    if status is MailStatus.SUPPRESSED:
        return f"{kind} not sent{why}"
    if status is MailStatus.UNCERTAIN:
        return f"{kind}{to}: delivery uncertain, it will not be sent again automatically{why}"
    return f"{kind}{to} {status}{why}"


@contextmanager
def _keyed_conflicts_as_duplicates(customer_id: object, po_number: object) -> Iterator[None]:
    """Turn a violation of the keyed-order index into ``DuplicateOrder``."""
    try:
        yield
    except IntegrityError as exc:
        if KEYED_ORDER_INDEX in str(exc.orig):
            raise DuplicateOrder(
                str(customer_id) if customer_id is not None else None,
                str(po_number) if po_number is not None else None,
            ) from exc
        raise


def _insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT support, in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
