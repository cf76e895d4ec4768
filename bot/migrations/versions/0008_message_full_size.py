"""The full size of a message of which only the header block is stored: ``messages.full_size``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

A message over ``max_message_bytes`` is recorded without its body and sent to
review unparsed. With ``executor: celery``, if the daemon died between recording
it and deciding it, a worker could take it up later and parse the header block
alone as if it were the message; the ledger now says it is incomplete.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("full_size", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("full_size")
