"""The store's first schema: ledger, blobs, documents, orders, events, leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Two rules live in the database itself, not only in the code:

* at most one order per (customer, PO number) in a keyed state (keying, keyed,
  acknowledged): a partial unique index, PO compared trimmed and lower-cased;
* ``events`` is append-only: triggers reject UPDATE and DELETE (and TRUNCATE
  on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE_STATUSES = "'received', 'processed', 'needs_review', 'failed'"
ORDER_STATES = (
    "'received', 'extracted', 'needs_review', 'ready', 'keying', 'keyed', "
    "'acknowledged', 'rejected', 'failed'"
)
KEYED_STATES = "'acknowledged', 'keyed', 'keying'"
APPEND_ONLY = "events are append-only"


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_blobs"),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("dedup_key", sa.Text(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("received_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(["sha256"], ["blobs.sha256"], name="fk_messages_sha256_blobs"),
        sa.UniqueConstraint("dedup_key", name="uq_messages_dedup_key"),
        sa.CheckConstraint(f"status IN ({MESSAGE_STATUSES})", name="ck_messages_status"),
    )
    op.create_index("ix_messages_status", "messages", ["status"])

    op.create_table(
        "message_locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ledger_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("seen_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message_locations"),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["messages.id"],
            name="fk_message_locations_ledger_id_messages",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "account",
            "folder",
            "uidvalidity",
            "uid",
            name="uq_message_locations_account_folder_uidvalidity_uid",
        ),
    )
    op.create_index("ix_message_locations_ledger_id", "message_locations", ["ledger_id"])

    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ledger_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["messages.id"],
            name="fk_documents_ledger_id_messages",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["sha256"], ["blobs.sha256"], name="fk_documents_sha256_blobs"),
    )
    op.create_index("ix_documents_ledger_id", "documents", ["ledger_id"])

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ledger_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("po_number", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("order_json", sa.Text(), nullable=False),
        sa.Column("fields_json", sa.Text(), nullable=True),
        sa.Column("portal_order_number", sa.Text(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.ForeignKeyConstraint(
            ["ledger_id"], ["messages.id"], name="fk_orders_ledger_id_messages"
        ),
        sa.CheckConstraint(f"state IN ({ORDER_STATES})", name="ck_orders_state"),
    )
    op.create_index("ix_orders_state", "orders", ["state"])
    op.create_index("ix_orders_ledger_id", "orders", ["ledger_id"])
    op.create_index(
        "ix_orders_customer_po", "orders", ["customer_id", sa.text("lower(trim(po_number))")]
    )
    keyed = sa.text(f"state IN ({KEYED_STATES})")
    op.create_index(
        "uq_orders_keyed_po",
        "orders",
        ["customer_id", sa.text("lower(trim(po_number))")],
        unique=True,
        sqlite_where=keyed,
        postgresql_where=keyed,
    )

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _timestamp(), nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.CheckConstraint("entity IN ('message', 'order')", name="ck_events_entity"),
    )
    op.create_index("ix_events_entity_entity_id", "events", ["entity", "entity_id"])
    _make_events_append_only()

    op.create_table(
        "leases",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("expires_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def _make_events_append_only() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # RAISE(ABORT) fails the statement as a constraint violation.
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
        return
    # restrict_violation (23001) makes drivers report an integrity error, as on SQLite.
    op.execute(
        "CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'restrict_violation'; END $$"
    )
    op.execute(
        "CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events "
        "FOR EACH ROW EXECUTE FUNCTION events_append_only()"
    )
    op.execute(
        "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()"
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("events")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION events_append_only()")
    op.drop_table("orders")
    op.drop_table("documents")
    op.drop_table("message_locations")
    op.drop_table("messages")
    op.drop_table("blobs")
