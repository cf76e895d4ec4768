"""Alembic environment for the orderbot store.

``Store.open(url)`` runs these migrations itself (``bot.store.engine.migrate``)
and passes its connection in ``config.attributes["connection"]``; a Config with
``sqlalchemy.url`` set works too. To start a new revision::

    .venv/bin/python -c "from alembic import command; from alembic.config import Config; \\
        c = Config(); c.set_main_option('script_location', 'bot/migrations'); \\
        command.revision(c, 'what it does', rev_id='0002')"

Revisions are plain ``op`` calls that run on SQLite and PostgreSQL alike; they
never import the store's table definitions, so each stays what it was when it
was written.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from bot.store.engine import create_store_engine, parse_url

# Any fixed number: the PostgreSQL advisory lock held while migrating, so that
# two processes opening a fresh database do not both create the schema.
MIGRATION_LOCK_ID = 0x0DE4B07


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=None,
        # SQLite can roll DDL back too, given the explicit BEGIN the store emits.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: use bot.store.Store.open(url) or set sqlalchemy.url")
    engine = create_store_engine(parse_url(url))
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; use Store.open(url)")
run_migrations_online()
