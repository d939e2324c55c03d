"""Index outbox.message_id: the chat page joins each message to its outbox row (when it was
really sent), and the outbox is never emptied, so without it every page load scans the table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 18:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_message_id", "outbox", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_message_id", table_name="outbox")
