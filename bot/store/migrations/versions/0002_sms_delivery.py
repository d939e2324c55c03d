"""SMS delivery: contacts.unreachable, messages.media_urls and messages.handled_at

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(
            sa.Column("unreachable", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("media_urls", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("handled_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_messages_unhandled", ["direction", "handled_at"], unique=False)
    # Messages stored before this revision were read when they arrived.
    op.execute("UPDATE messages SET handled_at = at WHERE direction = 'in'")


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_unhandled")
        batch.drop_column("handled_at")
        batch.drop_column("media_urls")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("unreachable")
