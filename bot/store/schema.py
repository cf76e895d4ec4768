"""The store's tables as SQLAlchemy Core objects, used to build queries.

The database itself is created by the Alembic migrations in ``bot/migrations``,
never by ``metadata.create_all``; a contract test checks that these definitions
and the migrated database agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    text,
)

from bot.model import KEYED_STATES

# The partial unique index that makes two keyed orders for one (customer, PO)
# impossible; the store recognises its name in an IntegrityError.
KEYED_ORDER_INDEX = "uq_orders_keyed_po"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the value is
    stored as naive UTC and given its ``UTC`` back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData(naming_convention=NAMING_CONVENTION)

blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", Text, nullable=False),
    Column("sha256", String(64), ForeignKey("blobs.sha256"), nullable=False),
    Column("dedup_key", Text, nullable=False),
    Column("origin", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("received_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Decisions begun and not ended: the process died in them (see Store.begin_deciding).
    Column("attempts", Integer, nullable=False, server_default="0"),
    # Set when only the header block was stored (too big to download): its full size.
    Column("full_size", BigInteger),
    UniqueConstraint("dedup_key"),
    CheckConstraint("status IN ('received', 'processed', 'needs_review', 'failed')", name="status"),
    Index(None, "status"),
)

message_locations = Table(
    "message_locations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ledger_id", Integer, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("account", Text, nullable=False),
    Column("folder", Text, nullable=False),
    Column("uidvalidity", BigInteger, nullable=False),
    Column("uid", BigInteger, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    UniqueConstraint("account", "folder", "uidvalidity", "uid"),
    Index(None, "ledger_id"),
)

documents = Table(
    "documents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ledger_id", Integer, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("sha256", String(64), ForeignKey("blobs.sha256"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index(None, "ledger_id"),
)

_ORDER_STATES = (
    "'received', 'extracted', 'needs_review', 'ready', 'keying', 'keyed', "
    "'acknowledged', 'rejected', 'failed'"
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ledger_id", Integer, ForeignKey("messages.id"), nullable=False),
    Column("source", Text, nullable=False),
    Column("customer_id", Text),
    Column("po_number", Text),
    Column("state", String(16), nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("priority", Integer, nullable=False),
    # The order in the extraction JSON of FORMATS.md section 2 (its key names).
    Column("order_json", Text, nullable=False),
    # Every field with its value, confidence and provenance (bot.store.codec).
    Column("fields_json", Text),
    Column("portal_order_number", Text),
    Column("created_at", UTCDateTime, nullable=False),
    # A retried order is not keyed again before this (backoff); None: at once.
    Column("not_before", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    # Bumped on every change: an UPDATE that names the version it read loses a race.
    Column("version", Integer, nullable=False),
    CheckConstraint(f"state IN ({_ORDER_STATES})", name="state"),
    Index(None, "state"),
    Index(None, "ledger_id"),
)

# find_orders looks a PO up case-insensitively and trimmed; so does the index below.
_PO_KEY = func.lower(func.trim(orders.c.po_number))
Index("ix_orders_customer_po", orders.c.customer_id, _PO_KEY)

_KEYED = ", ".join(f"'{state}'" for state in sorted(KEYED_STATES))
Index(
    KEYED_ORDER_INDEX,
    orders.c.customer_id,
    _PO_KEY,
    unique=True,
    sqlite_where=text(f"state IN ({_KEYED})"),
    postgresql_where=text(f"state IN ({_KEYED})"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("entity", String(16), nullable=False),
    Column("entity_id", Integer, nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("actor", Text, nullable=False),
    Column("reason", Text),
    CheckConstraint("entity IN ('message', 'order')", name="entity"),
    Index(None, "entity", "entity_id"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# Email to customers about their orders (bot.outgoing). One mail per order and
# kind, so an order is acknowledged at most once; ``raw`` is the message as sent.
MAIL_KINDS = "'acknowledgement', 'clarification'"
MAIL_STATUSES = "'queued', 'sending', 'sent', 'uncertain', 'failed', 'suppressed'"

outgoing_mail = Table(
    "outgoing_mail",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("message_id", Text),
    Column("sender", Text),
    Column("recipient", Text),
    Column("subject", Text),
    Column("language", String(16)),
    Column("raw", LargeBinary),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime),
    Column("last_error", Text),
    Column("note", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("claimed_by", Text),  # the holder that set it sending
    UniqueConstraint("order_id", "kind"),
    CheckConstraint(f"kind IN ({MAIL_KINDS})", name="kind"),
    CheckConstraint(f"status IN ({MAIL_STATUSES})", name="status"),
    # Only a mail that was never composed may lack its bytes.
    CheckConstraint("raw IS NOT NULL OR status IN ('suppressed', 'failed')", name="raw"),
    Index(None, "status", "next_attempt_at"),
)

# Keying (bot.keying): one row per attempt, committed before the portal is
# touched; an attempt with no outcome after a crash is reconciled by searching
# the portal. Artifacts hold session cookies: kept here, pruned by age.
KEYING_OUTCOMES = "'keyed', 'found', 'retry', 'review', 'failed', 'uncertain'"
ARTIFACT_KINDS = "'screenshot', 'trace', 'page'"

keying_attempts = Table(
    "keying_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("holder", Text, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("outcome", String(16)),
    Column("portal_order_number", Text),
    Column("error", Text),
    UniqueConstraint("order_id", "attempt"),
    CheckConstraint(f"outcome IS NULL OR outcome IN ({KEYING_OUTCOMES})", name="outcome"),
    Index(None, "outcome"),
)

keying_artifacts = Table(
    "keying_artifacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("attempt_id", Integer, ForeignKey("keying_attempts.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(f"kind IN ({ARTIFACT_KINDS})", name="kind"),
    Index(None, "created_at"),
    Index(None, "order_id"),
)

# The review workbench (bot.review): handlers' accounts and sessions, order
# locks, the audit of every view and change (append-only), and corrections
# kept as labelled examples.
REVIEW_ROLES = "'handler', 'supervisor'"

review_users = Table(
    "review_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled", Boolean, nullable=False),
    UniqueConstraint("name"),
    CheckConstraint(f"role IN ({REVIEW_ROLES})", name="role"),
)

# A session is a random token in an HttpOnly cookie; only its SHA-256 is kept,
# so a copy of the database does not let anyone in. Logout deletes the row.
review_sessions = Table(
    "review_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("review_users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Index(None, "user_id"),
)

review_locks = Table(
    "review_locks",
    metadata,
    Column("order_id", Integer, ForeignKey("orders.id"), primary_key=True),
    Column("holder", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("user", Text, nullable=False),
    Column("order_id", Integer),
    Column("action", String(32), nullable=False),
    Column("field", Text),
    Column("before", Text),
    Column("after", Text),
    Index(None, "order_id"),
)

corrections = Table(
    "corrections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("user", Text, nullable=False),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("ledger_id", Integer, nullable=False),
    Column("document", Text),
    Column("field", Text, nullable=False),
    Column("wrong", Text),
    Column("right", Text),
    Column("provenance_json", Text),
    Index(None, "order_id"),
)

# The daily report mail (bot.report_mail): one row per day it is sent on,
# claimed ('sending', holder, claimed_at) before the first recipient is tried.
# A claim left in 'sending' past its time is a dead sender's and may be taken
# over; 'failed' (a transient failure) is tried again by the next run.
REPORT_STATUSES = "'sending', 'sent', 'failed'"

report_mails = Table(
    "report_mails",
    metadata,
    Column("day", Date, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("holder", Text, nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("message_id", Text),
    # JSON: the addresses that have it, and those refused for good with the reply.
    Column("sent_to_json", Text, nullable=False),
    Column("rejected_json", Text, nullable=False),
    Column("error", Text),
    Column("finished_at", UTCDateTime),
    CheckConstraint(f"status IN ({REPORT_STATUSES})", name="status"),
)
