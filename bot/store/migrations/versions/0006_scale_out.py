"""Scale-out: outbox rows record when an attempt was handed to the provider (so an expired lease
tells "never left" from "may have been sent") and when the message was due (so lateness can be
measured); send_slots paces each sender across every worker process.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("handed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("due_at", sa.DateTime(), nullable=True))
    op.create_table(
        "send_slots",
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("next_free", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("sender"),
    )


def downgrade() -> None:
    op.drop_table("send_slots")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("due_at")
        batch.drop_column("handed_at")
