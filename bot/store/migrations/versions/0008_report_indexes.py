"""Indexes for the ops view: the log's events by time and interim updates by when they were sent
(so a month's report reads that month), each case's events in order (the report's time to
confirm, whatever PostgreSQL's statistics say), and notes newest first (a search by tag or kind
alone stops at its limit instead of sorting every note; bench/ops.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_log_entries_event_at", "log_entries", ["event", "at"])
    op.create_index("ix_outbox_kind_sent_at", "outbox", ["kind", "sent_at"])
    op.create_index("ix_log_entries_case_event_seq", "log_entries", ["case_id", "event", "seq"])
    op.create_index("ix_notes_created_at_id", "notes", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_notes_created_at_id", table_name="notes")
    op.drop_index("ix_log_entries_case_event_seq", table_name="log_entries")
    op.drop_index("ix_outbox_kind_sent_at", table_name="outbox")
    op.drop_index("ix_log_entries_event_at", table_name="log_entries")
