"""Who is sending a mail: ``outgoing_mail.claimed_by``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

With ``executor: celery`` a worker sends the acknowledgement of the order it
keyed, while the daemon delivers the rest. A mail found ``sending`` is then
only interrupted (``uncertain``) when the process that claimed it is dead, not
merely because another process is sending it right now.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outgoing_mail") as batch:
        batch.add_column(sa.Column("claimed_by", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outgoing_mail") as batch:
        batch.drop_column("claimed_by")
