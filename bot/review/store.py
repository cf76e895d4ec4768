"""Transactions on the store's database for the workbench's own tables.

The workbench shares the order store's database (``bot.store.schema`` has its
tables, migration ``0004_review`` creates them) but not its API: accounts,
sessions, locks, audit and corrections are the workbench's business, so they
are read and written here, with the same transaction discipline as
``bot.store.Store`` (SQLite writes begin IMMEDIATE).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from bot.store import Store
from bot.store.engine import SQLITE_BEGIN

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ReviewDb:
    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._clock = clock

    @classmethod
    def for_store(cls, store: Store, clock: Clock = utc_now) -> ReviewDb:
        # The Store keeps its engine private; the workbench uses the same one so
        # that SQLite sees a single pool (one busy timeout, one WAL writer queue).
        return cls(store._engine, clock)

    def now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return timezone-aware datetimes")
        return now

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self._engine.begin() as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        with self._writer.begin() as conn:
            yield conn
