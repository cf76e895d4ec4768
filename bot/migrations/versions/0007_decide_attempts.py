"""How many times deciding a message began and never ended: ``messages.attempts``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

A message whose parsing kills the process (the OOM killer on a huge PDF, a
crash in a native library) stays ``received`` and would be taken up again on
every restart or by every worker it is sent to. The count lets the pipeline
give up on it after a few tries: it is marked ``failed`` for a person instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("attempts")
