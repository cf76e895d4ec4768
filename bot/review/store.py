"""Transactions on the store's database for the workbench's own tables.

The workbench shares the order store's database (``bot.store.schema`` has its
tables, migration ``0004_review`` creates them) but not its API: accounts,
sessions, locks, audit and corrections are the workbench's business, so they
are read and written here, in the store's own transactions
(``Store.transaction``: one pool, SQLite writes begin IMMEDIATE, lock
errors become ``StoreBusy``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from sqlalchemy import Connection

from bot.store import Store

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ReviewDb:
    """The workbench's tables, in transactions of the store they sit beside."""

    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    @classmethod
    def for_store(cls, store: Store, clock: Clock = utc_now) -> ReviewDb:
        return cls(store, clock)

    def now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return timezone-aware datetimes")
        return now

    def reading(self) -> AbstractContextManager[Connection]:
        return self._store.transaction(write=False)

    def writing(self) -> AbstractContextManager[Connection]:
        return self._store.transaction(write=True)
