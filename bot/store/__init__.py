"""The persistent store of orderbot: the message ledger, orders, events, leases,
outgoing mail.

    from bot.store import Store

    with Store.open("sqlite:///data/orderbot.db") as store:
        entry = store.record_message(message_id=..., sha256=..., dedup_key=..., raw=...,
                                     origin=..., name=...)
        stored = store.add_order(entry.id, order, OrderState.READY)
        store.transition(stored.id, OrderState.KEYING, actor="bot",
                         expected_from=OrderState.READY)

SQLite (a file) and PostgreSQL are supported; ``Store.open`` migrates the
database with the Alembic revisions in ``bot/migrations``. Modules:
``store`` (the API), ``records`` (what it returns), ``schema`` (tables),
``engine`` (connecting, migrating, error translation), ``codec`` (the lossless
order JSON), ``rows`` (rows to records).
"""

from bot.store.records import (
    MAIL_ATTENTION,
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
from bot.store.keying import KeyingArtifact, KeyingAttempt, KeyingOutcome
from bot.store.store import Outcome, Store

__all__ = [
    "MAIL_ATTENTION",
    "Entity",
    "Event",
    "KeyingArtifact",
    "KeyingAttempt",
    "KeyingOutcome",
    "LedgerEntry",
    "MailKind",
    "MailStatus",
    "MessageLocation",
    "OutgoingMail",
    "Outcome",
    "Store",
    "StoredDocument",
    "StoredOrder",
]
