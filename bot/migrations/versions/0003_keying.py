"""Keying: every attempt to type an order into the portal, and what it left.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

An attempt row is committed (with the order moved to ``keying``) before the
browser touches the portal; its ``idempotency_key`` names the order in the
portal's world (customer and PO). An attempt without an outcome after a crash
is what reconciliation looks for. Artifacts (screenshot, Playwright trace)
hold session cookies, so they live here with the order, never in logs, and are
pruned by age. ``orders.not_before`` holds a retried order back (backoff).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOMES = "'keyed', 'found', 'retry', 'review', 'failed', 'uncertain'"
ARTIFACT_KINDS = "'screenshot', 'trace', 'page'"


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "keying_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("started_at", _timestamp(), nullable=False),
        sa.Column("finished_at", _timestamp(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("portal_order_number", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_keying_attempts"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_keying_attempts_order_id_orders"),
        sa.UniqueConstraint("order_id", "attempt", name="uq_keying_attempts_order_id_attempt"),
        sa.CheckConstraint(
            f"outcome IS NULL OR outcome IN ({OUTCOMES})", name="ck_keying_attempts_outcome"
        ),
    )
    op.create_index("ix_keying_attempts_outcome", "keying_attempts", ["outcome"])
    op.create_table(
        "keying_artifacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_keying_artifacts"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_keying_artifacts_order_id_orders"),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["keying_attempts.id"], name="fk_keying_artifacts_attempt_id_keying_attempts"
        ),
        sa.CheckConstraint(f"kind IN ({ARTIFACT_KINDS})", name="ck_keying_artifacts_kind"),
    )
    op.create_index("ix_keying_artifacts_created_at", "keying_artifacts", ["created_at"])
    op.create_index("ix_keying_artifacts_order_id", "keying_artifacts", ["order_id"])
    op.add_column("orders", sa.Column("not_before", _timestamp(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("not_before")
    op.drop_table("keying_artifacts")
    op.drop_table("keying_attempts")
