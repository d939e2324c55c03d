"""Indexes for the ops view's figures (bot/report.py): the log's events by time, and interim
updates by when they were sent, so a month's report reads that month and not the whole log.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_log_entries_event_at', 'log_entries', ['event', 'at'])
    op.create_index('ix_outbox_kind_sent_at', 'outbox', ['kind', 'sent_at'])


def downgrade() -> None:
    op.drop_index('ix_outbox_kind_sent_at', table_name='outbox')
    op.drop_index('ix_log_entries_event_at', table_name='log_entries')
