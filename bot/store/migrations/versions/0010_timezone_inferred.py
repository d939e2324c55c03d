"""Inferred time zones: contacts.timezone_inferred says the contact's zone was read from their
phone number (phonenumbers' time-zone data) rather than given, so a later number re-infers it
and a given zone replaces it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Zones stored before this revision were given by a client: none was inferred. A plain
    # ADD COLUMN, not a batch: on SQLite a batch copies the table, and dropping the old contacts
    # table fails its cases' foreign keys once any case exists.
    op.add_column(
        "contacts",
        sa.Column("timezone_inferred", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("timezone_inferred")
