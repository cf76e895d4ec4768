"""Outgoing mail: acknowledgements and clarification requests, sent at most once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

One row per (order, kind), enforced by a unique constraint, so an order is
acknowledged at most once even if two runs race. A mail is marked ``sending``
(committed) before the server is spoken to; see ``bot.outgoing``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAIL_KINDS = "'acknowledgement', 'clarification'"
MAIL_STATUSES = "'queued', 'sending', 'sent', 'uncertain', 'failed', 'suppressed'"


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outgoing_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("sender", sa.Text(), nullable=True),
        sa.Column("recipient", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _timestamp(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.Column("sent_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outgoing_mail"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_outgoing_mail_order_id_orders"),
        sa.UniqueConstraint("order_id", "kind", name="uq_outgoing_mail_order_id_kind"),
        sa.CheckConstraint(f"kind IN ({MAIL_KINDS})", name="ck_outgoing_mail_kind"),
        sa.CheckConstraint(f"status IN ({MAIL_STATUSES})", name="ck_outgoing_mail_status"),
        sa.CheckConstraint(
            "raw IS NOT NULL OR status IN ('suppressed', 'failed')", name="ck_outgoing_mail_raw"
        ),
    )
    op.create_index(
        "ix_outgoing_mail_status_next_attempt_at", "outgoing_mail", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("outgoing_mail")
