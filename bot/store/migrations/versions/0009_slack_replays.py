"""Slack replays: slack_requests_seen keeps the signature of every signed Slack command and
interaction for as long as Slack's five-minute window could let the same request in again, so a
copy of one is answered without acting twice.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_requests_seen",
        sa.Column("signature", sa.String(length=80), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("signature"),
    )
    op.create_index("ix_slack_requests_seen_seen_at", "slack_requests_seen", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_requests_seen_seen_at", table_name="slack_requests_seen")
    op.drop_table("slack_requests_seen")
