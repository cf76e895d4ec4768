"""The contract of ``bot.store.Store``, run against every database it supports.

Each test gets a fresh database: a SQLite file in ``tmp_path``, and a newly
created PostgreSQL database (dropped afterwards) on the server named by
``ORDERBOT_TEST_PG_URL`` (default: the local server, user postgres, trust
auth). When that server cannot be reached the PostgreSQL cases are skipped
with the reason, or fail when ``CI`` is set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import make_url

from bot.errors import ConfigError, DuplicateOrder, InvalidTransition, StoreBusy
from bot.extraction_json import order_to_json
from bot.model import (
    ORDER_TRANSITIONS,
    Address,
    Field,
    MessageStatus,
    Order,
    OrderLine,
    OrderState,
    Provenance,
    Reason,
    ReasonCode,
)
from bot.store import Entity, LedgerEntry, MessageLocation, Store, StoredOrder, codec
from bot.store.engine import MIGRATIONS_DIR
from bot.store.schema import KEYED_ORDER_INDEX, metadata

PG_ADMIN_URL = os.environ.get(
    "ORDERBOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# The newest revision on disk: a new migration must bring the schema to what
# bot/store/schema.py declares (checked below).
HEAD_REVISION = max(p.name.split("_", 1)[0] for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


# --- fixtures ----------------------------------------------------------------


class FakeClock:
    """The store's clock, moved by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _fresh_postgres_database() -> Iterator[str]:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"orderbot_test_{uuid.uuid4().hex[:16]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        first_line = str(exc.orig).splitlines()[0]
        reason = f"PostgreSQL at {make_url(PG_ADMIN_URL)!r} is unreachable: {first_line}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        # A directory that does not exist yet: open() must create it.
        yield f"sqlite:///{tmp_path}/data/orderbot.db"
    else:
        yield from _fresh_postgres_database()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> Iterator[Store]:
    with Store.open(store_url, clock=clock) as opened:
        yield opened


@pytest.fixture
def raw_sql(store: Store, store_url: str) -> Iterator[sa.Engine]:
    """A plain connection to the store's database that bypasses the API."""
    engine = sa.create_engine(store_url)
    yield engine
    engine.dispose()


# --- helpers -----------------------------------------------------------------


def make_order(
    customer_id: str | None = "C1001",
    po_number: str | None = "4500012345",
    *,
    urgent: bool = False,
) -> Order:
    """An order whose every field carries a value, a confidence and a provenance."""
    pdf = Provenance("attachment:PO.pdf", page=1, bbox=(72.0, 90.5, 210.0, 102.25))
    body = Provenance("body", span=(10, 24), rule="po-label")
    return Order(
        source="attachment:PO.pdf",
        customer_id=Field.known(customer_id) if customer_id else Field(),
        customer_name=Field("Nordwind Logistik GmbH", 0.9, pdf),
        po_number=Field(po_number, 0.99, body) if po_number else Field(),
        order_date=Field(date(2026, 11, 20), 0.95, pdf),
        delivery_date=Field(date(2026, 12, 1), 0.8, pdf),
        currency=Field("EUR", 1.0, pdf),
        ship_to=Field(
            Address("Lager Nord", "Hafenstrasse 12", "20457", "Hamburg", "DE", "C1001-A2"),
            0.93,
            pdf,
        ),
        lines=(
            OrderLine(
                sku=Field("AX-2291", 0.9, pdf),
                customer_sku=Field("NW-88812", 0.9, pdf),
                description=Field("Pallet wrap 500mm", 0.9, pdf),
                quantity=Field(Decimal("24"), 0.97, pdf),
                uom=Field("EA", 0.9, pdf),
                unit_price=Field(Decimal("3.40"), 0.9, pdf),
                line_total=Field(Decimal("81.60"), 0.9, pdf),
                codes=("AX-2291", "NW-88812"),
                text="24 EA Pallet wrap 500mm AX-2291 NW-88812 3,40",
            ),
            OrderLine(description=Field("a few boxes of tape", 0.4), quantity_text="a few boxes"),
        ),
        urgent=Field(urgent, 0.7, body),
        notes=Field("Deliver to gate 4 before 10:00", 0.6, body),
        document_total=Field(Decimal("81.60"), 0.9, pdf),
        reasons=(
            Reason(ReasonCode.AMBIGUOUS_QUANTITY, "quantity is words", "lines[1].quantity"),
            Reason(
                ReasonCode.PRICE_MISMATCH, "price differs", "lines[0].unit_price", "3.20", "3.40"
            ),
        ),
    )


def record(
    store: Store,
    key: str = "msg-1",
    *,
    raw: bytes | None = None,
    location: MessageLocation | None = None,
) -> LedgerEntry:
    raw = raw if raw is not None else f"Message-ID: <{key}@example.com>\r\n\r\nPO".encode()
    return store.record_message(
        message_id=f"<{key}@example.com>",
        sha256=hashlib.sha256(raw).hexdigest(),
        dedup_key=key,
        raw=raw,
        origin="imap:orders@example.com/INBOX",
        name=f"INBOX {key}",
        location=location,
    )


def add(
    store: Store,
    state: OrderState,
    customer_id: str | None = "C1001",
    po_number: str | None = "4500012345",
    **kwargs: object,
) -> StoredOrder:
    entry = record(store, f"msg-{uuid.uuid4().hex}")
    return store.add_order(entry.id, make_order(customer_id, po_number), state, **kwargs)


def at_once(*calls: Callable[[], object]) -> list[object]:
    """Run the calls in threads released together; each one's result or exception."""
    start = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        start.wait()
        try:
            results[index] = call()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


# --- schema and migrations -------------------------------------------------------


def test_open_migrates_an_empty_database_to_the_declared_schema(store: Store, raw_sql: sa.Engine):
    """
    Given an empty database
    When the store opens it
    Then the migrations have run to head, the database matches the tables the
         store queries (bot.store.schema), and the keyed-order index exists
    """
    with raw_sql.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [
            HEAD_REVISION
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLite: "cannot reflect expression index"
            diff = compare_metadata(
                MigrationContext.configure(
                    conn, opts={"compare_type": True, "include_object": _not_expression_index}
                ),
                metadata,
            )
        assert diff == []
        catalog = (
            "SELECT indexname FROM pg_indexes WHERE tablename = 'orders'"
            if conn.dialect.name == "postgresql"
            else "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders'"
        )
        index_names = set(conn.execute(sa.text(catalog)).scalars())
    assert EXPRESSION_INDEXES.issubset(index_names)


def test_reopening_an_existing_database_keeps_schema_and_data(store_url: str, clock: FakeClock):
    """
    Given a store that was opened, written to and closed
    When it is opened again
    Then no migration runs again: same revision, same schema, data still there
    """
    with Store.open(store_url, clock=clock) as first:
        entry = record(first)
        stored = first.add_order(entry.id, make_order(), OrderState.READY)
    engine = sa.create_engine(store_url)
    try:
        before = _schema_snapshot(engine)
        with Store.open(store_url, clock=clock) as second:
            assert second.seen("msg-1") == entry
            assert second.get_order(stored.id) == stored
        assert _schema_snapshot(engine) == before
    finally:
        engine.dispose()


def test_a_store_of_revision_0006_holding_a_message_upgrades_and_keeps_it(store_url: str, clock: FakeClock):
    """
    Given a store written by the orderbot of revision 0006, with a received message
    When the current orderbot opens it
    Then the message is still there, received, its tries counted from 0
    """
    from alembic import command
    from alembic.config import Config

    from bot.store.schema import UTCDateTime

    if store_url.startswith("sqlite:///"):
        Path(store_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(store_url)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0006")
            raw = b"Message-ID: <old@example.com>\r\n\r\nPO"
            digest = hashlib.sha256(raw).hexdigest()
            conn.execute(sa.text("INSERT INTO blobs (sha256, data, size) VALUES (:s, :d, :n)"),
                         {"s": digest, "d": raw, "n": len(raw)})
            conn.execute(sa.text(
                "INSERT INTO messages (message_id, sha256, dedup_key, origin, name, status, received_at, updated_at) "
                "VALUES ('<old@example.com>', :s, 'old', 'folder:x', 'old.eml', 'received', :t, :t)"
            ).bindparams(sa.bindparam("t", type_=UTCDateTime)), {"s": digest, "t": T0})
    finally:
        engine.dispose()
    with Store.open(store_url, clock=clock) as store:
        (entry,) = store.messages()
        assert (entry.name, entry.status, entry.attempts) == ("old.eml", MessageStatus.RECEIVED, 0)
        assert store.raw_bytes(entry.sha256).endswith(b"PO") and store.begin_deciding(entry.id) == 1


# Indexes on lower(trim(po_number)): SQLite cannot reflect them and PostgreSQL
# spells the expression its own way, so they are checked by name and by behaviour.
EXPRESSION_INDEXES = {KEYED_ORDER_INDEX, "ix_orders_customer_po"}


def _not_expression_index(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def _schema_snapshot(engine: sa.Engine) -> tuple[object, ...]:
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        tables = sorted(inspector.get_table_names())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            columns = {t: [c["name"] for c in inspector.get_columns(t)] for t in tables}
            indexes = {t: sorted(ix["name"] for ix in inspector.get_indexes(t)) for t in tables}
    return version, tables, columns, indexes


def test_sqlite_settings_on_every_connection(tmp_path):
    """
    Given a SQLite store
    When it is opened
    Then the file uses WAL and every connection enforces foreign keys and waits
         on a busy timeout
    """
    with (
        Store.open(f"sqlite:///{tmp_path}/o.db", busy_timeout_seconds=2.5) as store,
        store._engine.connect() as conn,
    ):
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500


def test_unusable_urls_are_config_errors(tmp_path):
    """
    Given URLs of a database the store does not support
    When the store is opened with them
    Then ConfigError names the problem
    """
    for url in ("mysql://u@host/db", "sqlite://", "sqlite:///:memory:", "not a url"):
        with pytest.raises(ConfigError):
            Store.open(url)


def test_unreachable_postgres_is_store_busy_without_the_password():
    """
    Given a PostgreSQL URL with a password where nothing listens
    When the store is opened
    Then StoreBusy (transient) is raised and its message hides the password
    """
    with pytest.raises(StoreBusy) as caught:
        Store.open("postgresql+psycopg://orderbot:hunter2@127.0.0.1:1/orderbot")
    assert "hunter2" not in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)


def test_locked_sqlite_database_is_store_busy(tmp_path):
    """
    Given a SQLite store whose file another process holds an exclusive lock on
    When the store tries to write
    Then StoreBusy is raised once the busy timeout has passed, and the store
         works again once the lock is gone
    """
    url = f"sqlite:///{tmp_path}/o.db"
    with Store.open(url, busy_timeout_seconds=0.2) as store:
        other = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with other.connect() as locker:
            locker.exec_driver_sql("BEGIN EXCLUSIVE")
            with pytest.raises(StoreBusy, match="busy or unreachable"):
                record(store)
            locker.exec_driver_sql("ROLLBACK")
        other.dispose()
        assert record(store).dedup_key == "msg-1"


# --- message ledger -------------------------------------------------------------


def test_same_dedup_key_twice_is_one_entry_with_two_locations(store: Store):
    """
    Given a message recorded from INBOX
    When the same message (same dedup key) is recorded from another folder
    Then there is one ledger entry, it is found at both locations, and only its
         creation was logged
    """
    inbox = MessageLocation("orders@example.com", "INBOX", 7, 42)
    archive = MessageLocation("orders@example.com", "Archive", 9, 3)

    first = record(store, location=inbox)
    second = record(store, location=archive)

    assert second == first
    assert store.messages() == [first]
    assert store.seen("msg-1") == first
    assert store.locations(first.id) == [inbox, archive]
    assert store.find_by_location("orders@example.com", "Archive", 9, 3) == first
    assert store.find_by_location("orders@example.com", "Archive", 10, 3) is None
    [created] = store.events(Entity.MESSAGE, first.id)
    assert (created.from_state, created.to_state, created.actor) == (
        None,
        MessageStatus.RECEIVED,
        "bot",
    )


def test_add_location_is_idempotent(store: Store):
    """
    Given a ledger entry
    When the same location is added twice and another one once
    Then each location is listed once
    """
    entry = record(store)
    store.add_location(entry.id, "acct", "INBOX", 1, 5)
    store.add_location(entry.id, "acct", "INBOX", 1, 5)
    store.add_location(entry.id, "acct", "INBOX", 2, 5)
    assert store.locations(entry.id) == [
        MessageLocation("acct", "INBOX", 1, 5),
        MessageLocation("acct", "INBOX", 2, 5),
    ]
    with pytest.raises(KeyError):
        store.add_location(entry.id + 1000, "acct", "INBOX", 1, 6)


def test_unknown_message_is_not_seen(store: Store):
    """
    Given an empty ledger
    When a key is looked up
    Then it has not been seen
    """
    assert store.seen("nope") is None
    assert store.find_by_location("acct", "INBOX", 1, 1) is None


def test_raw_bytes_and_documents_round_trip(store: Store):
    """
    Given a message with every byte value and an attachment
    When they are stored
    Then the exact bytes come back by their sha256, and the document is listed
    """
    raw = bytes(range(256)) * 3
    entry = record(store, raw=raw)
    pdf = b"%PDF-1.7\n\x00\xff binary"

    doc_id = store.add_document(entry.id, "PO.pdf", "application/pdf", pdf)

    assert store.raw_bytes(entry.sha256) == raw
    [doc] = store.documents(entry.id)
    assert (doc.id, doc.name, doc.content_type, doc.size) == (
        doc_id,
        "PO.pdf",
        "application/pdf",
        len(pdf),
    )
    assert doc.sha256 == hashlib.sha256(pdf).hexdigest()
    assert store.raw_bytes(doc.sha256) == pdf
    with pytest.raises(KeyError):
        store.raw_bytes("0" * 64)


def test_wrong_sha256_is_refused(store: Store):
    """
    Given raw bytes and a sha256 that is not theirs
    When the message is recorded
    Then ValueError, and nothing is in the ledger
    """
    with pytest.raises(ValueError, match="sha256"):
        store.record_message(
            message_id="<x>", sha256="0" * 64, dedup_key="x", raw=b"abc", origin="o", name="n"
        )
    assert store.messages() == []


def test_message_status_changes_are_logged_and_counted(store: Store, clock: FakeClock):
    """
    Given three recorded messages
    When two of them change status
    Then the entries, their events and the counts say so
    """
    a, b, _ = (record(store, key) for key in ("a", "b", "c"))
    clock.advance(60)

    updated = store.set_message_status(a.id, MessageStatus.PROCESSED)
    store.set_message_status(
        b.id, MessageStatus.NEEDS_REVIEW, reason="unknown customer", actor="handler:alice"
    )

    assert updated.status == MessageStatus.PROCESSED
    assert updated.updated_at == T0 + timedelta(seconds=60)
    assert updated.received_at == T0
    assert store.seen("b").reason == "unknown customer"
    assert [e.id for e in store.messages(MessageStatus.RECEIVED)] == [store.seen("c").id]
    assert len(store.messages(limit=2)) == 2
    assert store.message_counts() == {
        MessageStatus.RECEIVED: 1,
        MessageStatus.PROCESSED: 1,
        MessageStatus.NEEDS_REVIEW: 1,
        MessageStatus.FAILED: 0,
    }
    last = store.events(Entity.MESSAGE, b.id)[-1]
    assert (last.from_state, last.to_state, last.actor, last.reason) == (
        MessageStatus.RECEIVED,
        MessageStatus.NEEDS_REVIEW,
        "handler:alice",
        "unknown customer",
    )
    with pytest.raises(KeyError):
        store.set_message_status(9999, MessageStatus.FAILED)


def test_two_processes_deciding_one_message_at_once_store_one_outcome(store: Store):
    """
    Given a received message that two workers decide at the same moment (a task
         delivered twice)
    When both save their outcome, expecting the message still received
    Then one outcome is stored, the other gets InvalidTransition and stores
         nothing; a later status change expecting 'received' is refused too
    """
    entry = record(store, "twice")
    order = make_order("C1001", "4500011111")

    def decide() -> object:
        return store.save_outcome(entry.id, [(order, OrderState.READY, None)], MessageStatus.PROCESSED,
                                  expected_from=MessageStatus.RECEIVED)

    results = at_once(decide, decide)
    assert sorted(type(r).__name__ for r in results) == ["InvalidTransition", "list"]
    assert len(store.orders()) == 1 and store.message(entry.id).status is MessageStatus.PROCESSED
    with pytest.raises(InvalidTransition):
        store.set_message_status(entry.id, MessageStatus.FAILED, expected_from=MessageStatus.RECEIVED)
    assert store.message(entry.id).status is MessageStatus.PROCESSED


def test_a_message_stored_as_its_header_block_keeps_its_full_size(store: Store):
    raw = b"Message-ID: <big@example.com>\r\nSubject: PO\r\n\r\n"
    entry = store.record_message(message_id="<big@example.com>", sha256=hashlib.sha256(raw).hexdigest(), dedup_key="big",
                                 raw=raw, origin="imap:orders@example.com/INBOX", name="INBOX 9", full_size=90_000_000)
    assert store.message(entry.id).full_size == 90_000_000 and store.seen("big").full_size == 90_000_000
    assert record(store, "whole").full_size is None


def test_tries_at_deciding_a_message_are_counted_until_it_is_decided(store: Store):
    """
    Given a received message
    When two tries begin (the first process died), one ends in a transient error
         and is given back, and the message is then decided
    Then the count says 2, 2 again after the given-back try, and a try on the
         decided message begins nothing (0); an unknown id is a KeyError
    """
    entry = record(store, "tries")
    assert store.message(entry.id).attempts == 0
    assert [store.begin_deciding(entry.id), store.begin_deciding(entry.id)] == [1, 2]
    assert store.begin_deciding(entry.id) == 3
    store.end_deciding(entry.id)
    assert store.message(entry.id).attempts == 2
    store.set_message_status(entry.id, MessageStatus.PROCESSED, expected_from=MessageStatus.RECEIVED)
    assert store.begin_deciding(entry.id) == 0 and store.message(entry.id).attempts == 2
    with pytest.raises(KeyError):
        store.begin_deciding(entry.id + 1000)


# --- orders ---------------------------------------------------------------------


def test_order_round_trips_with_confidence_and_provenance(store: Store, raw_sql: sa.Engine):
    """
    Given an order whose fields carry confidences and provenances
    When it is stored and read back
    Then the very same Order comes back, and order_json is the FORMATS.md form
    """
    entry = record(store)
    order = make_order()

    stored = store.add_order(entry.id, order, OrderState.NEEDS_REVIEW, priority=3)

    assert store.get_order(stored.id) == stored
    assert stored.order == order
    assert (stored.customer_id, stored.po_number, stored.state, stored.priority) == (
        "C1001",
        "4500012345",
        OrderState.NEEDS_REVIEW,
        3,
    )
    assert (stored.ledger_id, stored.source, stored.version) == (entry.id, order.source, 1)
    assert stored.created_at == stored.updated_at == T0
    with raw_sql.connect() as conn:
        order_json = conn.execute(
            sa.text("SELECT order_json FROM orders WHERE id = :id"), {"id": stored.id}
        ).scalar_one()
    assert json.loads(order_json) == order_to_json(order)


def test_order_without_customer_or_po_can_be_stored(store: Store):
    """
    Given an order whose customer and PO number could not be read
    When it is stored for review
    Then it is kept with empty customer and PO
    """
    stored = add(store, OrderState.NEEDS_REVIEW, customer_id=None, po_number=None)
    assert (stored.customer_id, stored.po_number) == (None, None)
    assert store.get_order(stored.id).order.po_number == Field()


def test_lossless_codec_covers_every_attribute_of_the_model():
    """
    Given the Order and OrderLine records of bot.model
    When the store's lossless codec is compared with them
    Then every attribute is written (a new one must be added to the codec)
    """
    assert {f.name for f in dataclasses.fields(Order)} == set(
        codec.ORDER_FIELDS
    ) | codec.ORDER_PLAIN
    assert {f.name for f in dataclasses.fields(OrderLine)} == set(
        codec.LINE_FIELDS
    ) | codec.LINE_PLAIN


def test_unknown_order_and_ledger_ids_are_key_errors(store: Store):
    """
    Given an empty store
    When an order or a ledger entry that does not exist is used
    Then KeyError
    """
    with pytest.raises(KeyError):
        store.get_order(1)
    with pytest.raises(KeyError):
        store.add_order(1, make_order(), OrderState.READY)
    with pytest.raises(KeyError):
        store.transition(1, OrderState.READY, actor="bot")


def test_happy_path_through_the_state_machine(store: Store, clock: FakeClock):
    """
    Given an extracted order
    When it goes ready -> keying -> keyed (with the portal's number) -> acknowledged
    Then each step bumps the version, and the events tell the story
    """
    order = add(store, OrderState.EXTRACTED)
    steps = [
        (OrderState.READY, "bot", None),
        (OrderState.KEYING, "bot", None),
        (OrderState.KEYED, "bot", "PRT-981"),
        (OrderState.ACKNOWLEDGED, "bot", None),
    ]
    for to_state, actor, portal_number in steps:
        clock.advance(1)
        order = store.transition(
            order.id,
            to_state,
            actor=actor,
            reason=f"to {to_state}",
            portal_order_number=portal_number,
        )
        assert order.state == to_state
        assert order.updated_at == clock.now

    assert order.version == 5
    assert order.portal_order_number == "PRT-981"
    assert [(e.from_state, e.to_state) for e in store.events(Entity.ORDER, order.id)] == [
        (None, OrderState.EXTRACTED),
        (OrderState.EXTRACTED, OrderState.READY),
        (OrderState.READY, OrderState.KEYING),
        (OrderState.KEYING, OrderState.KEYED),
        (OrderState.KEYED, OrderState.ACKNOWLEDGED),
    ]


def test_every_transition_is_allowed_exactly_when_the_state_machine_says(store: Store):
    """
    Given an order in each state
    When it is moved to each state
    Then the move succeeds if ORDER_TRANSITIONS allows it and raises
         InvalidTransition otherwise, leaving the order untouched
    """
    states = list(OrderState)
    for n, (from_state, to_state) in enumerate((f, t) for f in states for t in states):
        order = add(store, from_state, customer_id=f"C{n}")
        if to_state in ORDER_TRANSITIONS[from_state]:
            moved = store.transition(order.id, to_state, actor="bot")
            assert (moved.state, moved.version) == (to_state, 2)
        else:
            with pytest.raises(InvalidTransition):
                store.transition(order.id, to_state, actor="bot")
            assert store.get_order(order.id) == order
            assert len(store.events(Entity.ORDER, order.id)) == 1


def test_transition_checks_the_expected_state(store: Store):
    """
    Given an order in needs_review
    When a transition expects it to be ready
    Then InvalidTransition, and the order is unchanged
    """
    order = add(store, OrderState.NEEDS_REVIEW)
    with pytest.raises(InvalidTransition):
        store.transition(order.id, OrderState.KEYING, actor="bot", expected_from=OrderState.READY)
    with pytest.raises(InvalidTransition):
        store.transition(order.id, OrderState.REJECTED, actor="bot", expected_from=OrderState.READY)
    assert store.get_order(order.id) == order


def test_transition_can_replace_the_order(store: Store):
    """
    Given a ready order
    When it moves to keying with a corrected order
    Then the stored order and its columns are the corrected ones
    """
    order = add(store, OrderState.READY)
    corrected = dataclasses.replace(make_order(po_number="4500012399"), notes=Field("gate 5", 1.0))

    moved = store.transition(order.id, OrderState.KEYING, actor="bot", order=corrected)

    assert moved.order == corrected
    assert moved.po_number == "4500012399"
    assert store.get_order(order.id) == moved


def test_update_order_is_a_logged_correction(store: Store):
    """
    Given an order in review
    When a handler corrects it
    Then the content changes, the state does not, and the event goes from the
         state to itself with the handler as actor
    """
    order = add(store, OrderState.NEEDS_REVIEW)
    corrected = make_order(po_number="4500099999", urgent=True)

    updated = store.update_order(order.id, corrected, actor="handler:alice", reason="PO typo")

    assert (updated.order, updated.state, updated.version) == (corrected, order.state, 2)
    assert (updated.po_number, updated.urgent) == ("4500099999", True)
    last = store.events(Entity.ORDER, order.id)[-1]
    assert (last.from_state, last.to_state, last.actor, last.reason) == (
        OrderState.NEEDS_REVIEW,
        OrderState.NEEDS_REVIEW,
        "handler:alice",
        "PO typo",
    )


@pytest.mark.parametrize("state", [OrderState.KEYING, OrderState.KEYED, OrderState.REJECTED])
def test_keyed_or_rejected_orders_cannot_be_edited(store: Store, state: OrderState):
    """
    Given an order that is in the portal (or being keyed) or rejected
    When a handler tries to correct it
    Then InvalidTransition, and the order is unchanged
    """
    order = add(store, state)
    with pytest.raises(InvalidTransition):
        store.update_order(order.id, make_order(po_number="X"), actor="handler:alice")
    assert store.get_order(order.id) == order


# --- the keyed-order guarantee ----------------------------------------------------


def test_second_keyed_order_for_the_same_po_is_a_duplicate(store: Store):
    """
    Given an order of customer C1001, PO 4500012345, that is keyed
    When another order of the same customer and PO (other case, spaces) goes to keying
    Then DuplicateOrder, that order stays ready, and the store still works
    """
    add(store, OrderState.KEYED, po_number="po-4500012345")
    second = add(store, OrderState.READY, po_number="  PO-4500012345 ")

    with pytest.raises(DuplicateOrder) as caught:
        store.transition(second.id, OrderState.KEYING, actor="bot", expected_from=OrderState.READY)

    assert caught.value.customer_id == "C1001"
    assert store.get_order(second.id) == second
    assert len(store.events(Entity.ORDER, second.id)) == 1
    with pytest.raises(DuplicateOrder):
        add(store, OrderState.ACKNOWLEDGED, po_number="PO-4500012345")
    moved = store.transition(second.id, OrderState.NEEDS_REVIEW, actor="bot", reason="duplicate")
    assert moved.state == OrderState.NEEDS_REVIEW


def test_database_rejects_a_second_keyed_order_behind_the_apis_back(
    store: Store, raw_sql: sa.Engine
):
    """
    Given a keyed order and a ready order for the same customer and PO
    When a raw SQL UPDATE sets the ready one to keying
    Then the database itself refuses it
    """
    add(store, OrderState.KEYED)
    second = add(store, OrderState.READY)
    with pytest.raises(sa.exc.IntegrityError, match=KEYED_ORDER_INDEX), raw_sql.begin() as conn:
        conn.execute(
            sa.text("UPDATE orders SET state = 'keying' WHERE id = :id"), {"id": second.id}
        )
    assert store.get_order(second.id).state == OrderState.READY


def test_rejected_and_keyed_orders_may_share_a_po(store: Store):
    """
    Given a rejected and a failed order for customer C1001, PO 4500012345
    When another order for them is keyed, and one for another customer too
    Then all are stored
    """
    rejected = add(store, OrderState.REJECTED)
    add(store, OrderState.FAILED)
    keyed = add(store, OrderState.KEYED)
    other_customer = add(store, OrderState.KEYED, customer_id="C2002")

    assert store.get_order(rejected.id).state == OrderState.REJECTED
    assert store.get_order(keyed.id).state == OrderState.KEYED
    assert store.get_order(other_customer.id).state == OrderState.KEYED


def test_concurrent_transitions_from_the_same_state_have_one_winner(
    store_url: str, clock: FakeClock
):
    """
    Given two store objects (two bot processes) on one database, and ready orders
    When both move each order from ready to keying at the same moment
    Then for each order exactly one succeeds and the other gets InvalidTransition
    """
    with (
        Store.open(store_url, clock=clock) as first,
        Store.open(store_url, clock=clock) as second,
    ):
        for n in range(5):
            order_id = add(first, OrderState.READY, po_number=f"PO-{n}").id

            results = at_once(
                *(
                    partial(
                        s.transition,
                        order_id,
                        OrderState.KEYING,
                        actor="bot",
                        expected_from=OrderState.READY,
                    )
                    for s in (first, second)
                )
            )

            assert sorted(type(r).__name__ for r in results) == ["InvalidTransition", "StoredOrder"]
            final = first.get_order(order_id)
            assert (final.state, final.version) == (OrderState.KEYING, 2)
            to_keying = [e for e in first.events(Entity.ORDER, order_id) if e.to_state == "keying"]
            assert len(to_keying) == 1


# --- save_outcome -------------------------------------------------------------------


def test_a_customers_orders_in_some_states_come_with_their_versions(store: Store):
    """
    Given orders of two customers in several states
    When one customer's ready and keying orders are asked for, then by id
    Then only theirs in those states come, each with the version a change bumps
    """
    entry = record(store)
    mine_ready, mine_review, mine_keying, theirs = store.save_outcome(entry.id, [
        (make_order("C1001", "V-1"), OrderState.READY, None),
        (make_order("C1001", "V-2"), OrderState.NEEDS_REVIEW, None),
        (make_order("C1001", "V-3"), OrderState.READY, None),
        (make_order("C1002", "V-4"), OrderState.READY, None),
    ], MessageStatus.PROCESSED)
    keying = store.transition(mine_keying.id, OrderState.KEYING, actor="bot")
    states = (OrderState.READY, OrderState.KEYING)
    assert store.customer_order_versions("C1001", states) == {mine_ready.id: mine_ready.version, keying.id: keying.version}
    assert keying.version > mine_keying.version
    assert [o.po_number for o in store.orders_by_id([theirs.id, mine_ready.id, 10_000])] == ["V-1", "V-4"]
    assert store.orders_by_id([]) == [] and mine_review.id not in store.customer_order_versions("C1001", states)


def test_save_outcome_stores_orders_and_status_together(store: Store):
    """
    Given a recorded message carrying two purchase orders
    When its outcome is saved
    Then both orders exist with their states and reasons, and the message is processed
    """
    entry = record(store)
    outcome = [
        (make_order(po_number="A-1"), OrderState.READY, None),
        (make_order(po_number="A-2"), OrderState.NEEDS_REVIEW, "unknown sku"),
    ]

    saved = store.save_outcome(entry.id, outcome, MessageStatus.PROCESSED)

    assert [(o.po_number, o.state, o.ledger_id) for o in saved] == [
        ("A-1", OrderState.READY, entry.id),
        ("A-2", OrderState.NEEDS_REVIEW, entry.id),
    ]
    assert store.seen(entry.dedup_key).status == MessageStatus.PROCESSED
    assert store.events(Entity.ORDER, saved[1].id)[0].reason == "unknown sku"


def test_save_outcome_keeps_priorities_and_the_message_can_be_read_back(store: Store):
    """
    Given a message with a normal and a high-priority order
    When its outcome is saved with priorities
    Then the queue lists the high-priority order first, and the ledger entry
         of an order can be read back by id
    """
    entry = record(store)
    outcome = [
        (make_order(po_number="P-low"), OrderState.READY, None),
        (make_order(po_number="P-high"), OrderState.READY, None),
    ]

    store.save_outcome(entry.id, outcome, MessageStatus.PROCESSED, priorities=[0, 5])

    assert [o.po_number for o in store.orders(state=OrderState.READY)] == ["P-high", "P-low"]
    assert store.message(entry.id).dedup_key == entry.dedup_key
    with pytest.raises(ValueError):
        store.save_outcome(entry.id, outcome, MessageStatus.PROCESSED, priorities=[1])
    with pytest.raises(KeyError):
        store.message(entry.id + 1000)


def test_save_outcome_is_all_or_nothing(store: Store):
    """
    Given a keyed order for PO 4500012345, and a new message with two orders,
          the second of which would be a second keyed order for that PO
    When the outcome is saved
    Then DuplicateOrder, neither order is stored, the message status and the
         event log are unchanged, and the store still works
    """
    add(store, OrderState.KEYED)
    entry = record(store, "new")
    counts_before = store.order_counts()
    events_before = store.events()
    outcome = [
        (make_order(po_number="B-1"), OrderState.READY, None),
        (make_order(), OrderState.KEYED, None),
    ]

    with pytest.raises(DuplicateOrder):
        store.save_outcome(entry.id, outcome, MessageStatus.PROCESSED)

    assert store.order_counts() == counts_before
    assert store.find_orders("C1001", "B-1") == []
    assert store.seen("new").status == MessageStatus.RECEIVED
    assert store.events() == events_before
    saved = store.save_outcome(entry.id, outcome[:1], MessageStatus.PROCESSED)
    assert [o.po_number for o in saved] == ["B-1"]


# --- events ---------------------------------------------------------------------------


def test_every_change_writes_an_event(store: Store, clock: FakeClock):
    """
    Given a fresh store
    When a message is recorded, an order added, moved and corrected, and the
         message status set
    Then the event log holds one event per change, in order, with time, actor
         and reason
    """
    entry = record(store)
    order = store.add_order(entry.id, make_order(), OrderState.EXTRACTED, reason="extracted")
    clock.advance(5)
    store.transition(order.id, OrderState.NEEDS_REVIEW, actor="bot", reason="unknown sku")
    store.update_order(order.id, make_order(po_number="P-2"), actor="handler:bob", reason="fix")
    store.set_message_status(entry.id, MessageStatus.NEEDS_REVIEW, reason="1 order in review")

    assert [
        (e.entity, e.entity_id, e.from_state, e.to_state, e.actor, e.reason, e.at)
        for e in store.events()
    ] == [
        (Entity.MESSAGE, entry.id, None, MessageStatus.RECEIVED, "bot", None, T0),
        (Entity.ORDER, order.id, None, OrderState.EXTRACTED, "bot", "extracted", T0),
        (
            Entity.ORDER,
            order.id,
            OrderState.EXTRACTED,
            OrderState.NEEDS_REVIEW,
            "bot",
            "unknown sku",
            clock.now,
        ),
        (
            Entity.ORDER,
            order.id,
            OrderState.NEEDS_REVIEW,
            OrderState.NEEDS_REVIEW,
            "handler:bob",
            "fix",
            clock.now,
        ),
        (
            Entity.MESSAGE,
            entry.id,
            MessageStatus.RECEIVED,
            MessageStatus.NEEDS_REVIEW,
            "bot",
            "1 order in review",
            clock.now,
        ),
    ]
    assert all(e.at.tzinfo is not None and e.at.utcoffset() == timedelta(0) for e in store.events())
    assert len(store.events(entity=Entity.ORDER)) == 3


@pytest.mark.parametrize(
    "statement",
    ["UPDATE events SET actor = 'mallory'", "DELETE FROM events"],
)
def test_events_are_append_only_in_the_database(store: Store, raw_sql: sa.Engine, statement: str):
    """
    Given an event log with events
    When raw SQL tries to change or delete them
    Then the database refuses, and the events are unchanged
    """
    record(store)
    before = store.events()
    with pytest.raises(sa.exc.IntegrityError, match="append-only"), raw_sql.begin() as conn:
        conn.execute(sa.text(statement))
    assert store.events() == before


# --- queues, lookups, counts ---------------------------------------------------------------


def test_orders_come_urgent_first_then_by_priority_then_oldest(store: Store, clock: FakeClock):
    """
    Given ready orders created one after another, some urgent, some with priority
    When the ready queue is listed
    Then urgent ones come first, then higher priority, then older
    """
    entry = record(store)

    def add_ready(po: str, *, urgent: bool = False, priority: int = 0) -> str:
        clock.advance(1)
        order = make_order(po_number=po, urgent=urgent)
        store.add_order(entry.id, order, OrderState.READY, priority=priority)
        return po

    old = add_ready("old")
    newer = add_ready("newer")
    high = add_ready("high", priority=5)
    urgent_new = add_ready("urgent-new", urgent=True)
    urgent_old_low = add_ready("urgent-high", urgent=True, priority=1)
    store.add_order(entry.id, make_order(po_number="review"), OrderState.NEEDS_REVIEW)

    ready = [o.po_number for o in store.orders(OrderState.READY)]
    assert ready == [urgent_old_low, urgent_new, high, old, newer]
    assert [o.po_number for o in store.orders(OrderState.READY, limit=2)] == ready[:2]
    assert len(store.orders()) == 6


def test_find_orders_ignores_case_and_spaces(store: Store):
    """
    Given orders of C1001 for PO "PO-77" in several states, and one of C2002
    When orders are looked up by customer and " po-77 "
    Then the customer's orders are found, rejected and failed ones only on request
    """
    ready = add(store, OrderState.READY, po_number="PO-77")
    keyed = add(store, OrderState.KEYED, po_number=" po-77")
    rejected = add(store, OrderState.REJECTED, po_number="Po-77 ")
    add(store, OrderState.READY, customer_id="C2002", po_number="PO-77")
    add(store, OrderState.READY, po_number="PO-78")

    assert [o.id for o in store.find_orders("C1001", " po-77 ")] == [ready.id, keyed.id]
    assert [o.id for o in store.find_orders("C1001", "PO-77", exclude_states=())] == [
        ready.id,
        keyed.id,
        rejected.id,
    ]
    assert store.find_orders("C3003", "PO-77") == []


def test_order_counts_cover_every_state(store: Store):
    """
    Given orders in some states
    When they are counted
    Then every state has its count, zero included
    """
    add(store, OrderState.READY, po_number="1")
    add(store, OrderState.READY, po_number="2")
    add(store, OrderState.KEYED, po_number="3")

    counts = store.order_counts()

    assert set(counts) == set(OrderState)
    assert (counts[OrderState.READY], counts[OrderState.KEYED], counts[OrderState.FAILED]) == (
        2,
        1,
        0,
    )


# --- leases ----------------------------------------------------------------------------


def test_lease_is_exclusive_until_released(store: Store):
    """
    Given bot A holds the lease "keying"
    When bot B asks for it, then A releases it, then B asks again
    Then B is refused while A holds it and gets it after; B cannot release A's
    """
    assert store.acquire_lease("keying", "bot-a", 60) is True
    assert store.acquire_lease("keying", "bot-b", 60) is False
    assert store.release_lease("keying", "bot-b") is False
    assert store.acquire_lease("keying", "bot-b", 60) is False

    assert store.release_lease("keying", "bot-a") is True
    assert store.acquire_lease("keying", "bot-b", 60) is True
    assert store.acquire_lease("other", "bot-a", 60) is True


def test_lease_renewal_and_expiry(store: Store, clock: FakeClock):
    """
    Given bot A holds a 60 s lease
    When A renews it after 50 s, and time passes
    Then B is refused until the renewed lease has expired, and gets it then
    """
    assert store.acquire_lease("keying", "bot-a", 60)
    clock.advance(50)
    assert store.acquire_lease("keying", "bot-a", 60)  # renewed until 110 s
    clock.advance(30)
    assert not store.acquire_lease("keying", "bot-b", 60)
    clock.advance(31)
    assert store.acquire_lease("keying", "bot-b", 60)
    assert not store.acquire_lease("keying", "bot-a", 60)


def test_leases_of_dead_holders_are_released_and_no_others(store: Store):
    """
    Given leases held by a dead process and by a live one
    When the dead holders' leases are released
    Then only those are gone, and another holder can take them at once
    """
    assert store.acquire_lease("source:inbox", "host:1:dead", 600)
    assert store.acquire_lease("job:keying", "host:1:dead", 600)
    assert store.acquire_lease("job:acknowledge", "host:2:alive", 600)
    assert sorted(store.release_dead_leases(lambda holder: holder.endswith(":dead"))) == ["job:keying", "source:inbox"]
    assert store.acquire_lease("job:keying", "bot-b", 60)
    assert not store.acquire_lease("job:acknowledge", "bot-b", 60)
    assert store.release_dead_leases(lambda holder: holder.endswith(":dead")) == []


def test_long_lapsed_leases_of_a_prefix_are_pruned_and_no_others(store: Store, clock: FakeClock):
    store.acquire_lease("worker:gone", "gone", 10)
    store.acquire_lease("worker:alive", "alive", 10)
    store.acquire_lease("work_x:lookalike", "gone", 10)  # "_" is no wildcard here
    store.acquire_lease("job:keying", "gone", 10)
    clock.advance(3600)
    store.acquire_lease("worker:alive", "alive", 10)
    assert store.prune_lapsed_leases("worker:", timedelta(minutes=30)) == ["worker:gone"]
    assert store.lease_expiry("worker:gone") is None
    assert all(store.lease_expiry(n) is not None for n in ("worker:alive", "work_x:lookalike", "job:keying"))


def test_two_stores_compete_for_one_lease(store_url: str, clock: FakeClock):
    """
    Given two store objects on one database
    When both ask for the same lease at the same moment, several times
    Then each time exactly one gets it
    """
    with Store.open(store_url, clock=clock) as a, Store.open(store_url, clock=clock) as b:
        for n in range(5):
            results = at_once(
                partial(a.acquire_lease, f"lease-{n}", "bot-a", 60),
                partial(b.acquire_lease, f"lease-{n}", "bot-b", 60),
            )
            assert sorted(results) == [False, True]
