"""Connecting to the store's database: engines, migrations, error translation.

Two databases are supported, with one set of migrations:

* ``sqlite:///path/to/file.db``: the parent directory is created; every
  connection gets WAL journaling, foreign keys and a busy timeout. Writes start
  with ``BEGIN IMMEDIATE`` so that two writers queue on the busy timeout
  instead of failing when one upgrades a read to a write.
* ``postgresql+psycopg://user@host/db``.

Library errors are translated here: a locked or unreachable database is
``StoreBusy`` (retry later), a URL or database that cannot work is
``ConfigError``. Messages show the URL without its password.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from bot.errors import ConfigError, StoreBusy

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# How long SQLite waits for another writer before "database is locked".
DEFAULT_BUSY_TIMEOUT_SECONDS = 10.0

# Execution option naming how SQLite starts a transaction: "DEFERRED" (reads)
# or "IMMEDIATE" (writes). PostgreSQL ignores it.
SQLITE_BEGIN = "orderbot_sqlite_begin"

_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
# psycopg reports connection failures without an SQLSTATE; these words mark the
# ones that waiting will not fix.
_PG_PERMANENT_WORDS = ("does not exist", "authentication failed", "pg_hba.conf", "no password")
# SQLSTATE classes worth a retry: connection exception, operator intervention
# (shutdown, starting up), transaction rollback (serialization, deadlock),
# insufficient resources, lock not available.
_PG_TRANSIENT_SQLSTATES = ("08", "57P", "40", "53", "55P03")


def safe_url(url: str | URL) -> str:
    """The URL as text with its password masked, fit for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL: {exc}", key="store.url") from exc
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigError(
                f"{safe_url(parsed)}: the store needs a file, e.g. sqlite:///data/orderbot.db",
                key="store.url",
            )
    elif parsed.get_backend_name() != "postgresql":
        raise ConfigError(
            f"{safe_url(parsed)}: unsupported database; use sqlite:///FILE "
            "or postgresql+psycopg://USER@HOST/DB",
            key="store.url",
        )
    return parsed


def create_store_engine(
    url: URL, *, busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS
) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, busy_timeout_ms=round(busy_timeout_seconds * 1000))
    return create_engine(url, pool_pre_ping=True)


def _sqlite_engine(url: URL, *, busy_timeout_ms: int) -> Engine:
    assert url.database is not None
    directory = Path(url.database).expanduser().parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {directory}: {exc}", path=safe_url(url)) from exc
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module (it does not begin before a
        # SELECT or DDL); SQLAlchemy's "begin" event below emits it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def is_transient(exc: DBAPIError) -> bool:
    """Whether waiting and trying again may help."""
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
        return "locked" in str(orig) or "busy" in str(orig)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is None:  # psycopg: the connection itself failed
        return not any(word in str(orig) for word in _PG_PERMANENT_WORDS)
    return str(sqlstate).startswith(_PG_TRANSIENT_SQLSTATES)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def translated_errors(url: URL, *, opening: bool = False) -> Iterator[None]:
    """Raise ``StoreBusy`` for a locked or unreachable database; while opening,
    ``ConfigError`` for one that cannot be used at all."""
    try:
        yield
    except OperationalError as exc:
        if is_transient(exc):
            raise StoreBusy(
                f"store {safe_url(url)} is busy or unreachable: {_first_line(exc)}"
            ) from exc
        if opening:
            raise ConfigError(
                f"cannot open the store: {_first_line(exc)}", path=safe_url(url)
            ) from exc
        raise


def migrate(engine: Engine, url: URL) -> None:
    """Bring the database to the newest schema (a no-op when it is there)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # One transaction for all of it: on SQLite BEGIN IMMEDIATE, on PostgreSQL
    # an advisory lock taken in env.py, so two bots starting at once migrate once.
    with engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}).begin() as conn:
        config.attributes["connection"] = conn
        try:
            command.upgrade(config, "head")
        except CommandError as exc:
            raise ConfigError(
                f"cannot migrate the store: {exc} (was it written by a newer orderbot?)",
                path=safe_url(url),
            ) from exc
