"""Outbox priorities: outbox.priority is the class of each row's kind (bot/outbox/priority.py),
so at a sender's limit a customer's answer goes before a backlog of interim updates; the claim
reads it from ix_outbox_claim (status, priority, not_before, id).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# The classes as they were at this revision; later changes to the mapping need a migration
# of their own, so this one is written out rather than imported.
CLASS_OF_KIND = {
    "reply": 0,
    "alert": 1,
    "confirm_request": 2,
    "reminder": 2,
    "delay_notice": 3,
    "closing_notice": 3,
    "interim": 4,
}


def upgrade() -> None:
    # A plain ADD COLUMN, as in 0010: a batch would copy the outbox table, which alert_bursts
    # and the outbox itself (updates_id) point at.
    op.add_column(
        "outbox",
        sa.Column("priority", sa.Integer(), nullable=False, server_default=sa.text("4")),
    )
    outbox = sa.table("outbox", sa.column("kind", sa.String()), sa.column("priority", sa.Integer()))
    op.execute(
        outbox.update().values(
            priority=sa.case(
                *((outbox.c.kind == kind, rank) for kind, rank in CLASS_OF_KIND.items()),
                else_=4,
            )
        )
    )
    op.create_index("ix_outbox_claim", "outbox", ["status", "priority", "not_before", "id"])
    op.create_index("ix_outbox_case_status", "outbox", ["case_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_outbox_case_status", table_name="outbox")
    op.drop_index("ix_outbox_claim", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("priority")
