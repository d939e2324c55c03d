"""Slack: outbox.blocks (Block Kit beside a message's text) and messages.sentiment

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("blocks", sa.JSON(), nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("sentiment", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("sentiment")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("blocks")
