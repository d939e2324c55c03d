"""Alert bursts: alert_bursts holds each case's current alert, so the customer messages of a
burst edit one Slack alert instead of raising one each; outbox.provider_id keeps what Slack
called a sent alert and outbox.updates_id marks a row that edits it (chat.update).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs, not a batch: on SQLite a batch copies the outbox table (see 0010).
    # Alerts sent before this revision have no provider id: a burst never edits them.
    op.add_column("outbox", sa.Column("provider_id", sa.String(length=64), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot ALTER a constraint in; a column may carry its reference inline.
        op.execute("ALTER TABLE outbox ADD COLUMN updates_id INTEGER REFERENCES outbox (id)")
    else:
        op.add_column("outbox", sa.Column("updates_id", sa.Integer(), nullable=True))
        op.create_foreign_key(None, "outbox", "outbox", ["updates_id"], ["id"])
    op.create_index("ix_outbox_updates_id", "outbox", ["updates_id"])
    op.create_table(
        "alert_bursts",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("worst_upset", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )


def downgrade() -> None:
    op.drop_table("alert_bursts")
    op.drop_index("ix_outbox_updates_id", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("updates_id")
        batch.drop_column("provider_id")
