"""The daily report mail: one row per day, so the report goes out once a day.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

A run claims the day (``sending``, holder, time) before it mails anyone and
marks it ``sent`` after; ``failed`` is a transient failure the next run
retries, a stale ``sending`` claim is a dead sender's (see ``bot.report_mail``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'sending', 'sent', 'failed'"


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "report_mails",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("claimed_at", _timestamp(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("sent_to_json", sa.Text(), nullable=False),
        sa.Column("rejected_json", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("day", name="pk_report_mails"),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_report_mails_status"),
    )


def downgrade() -> None:
    op.drop_table("report_mails")
