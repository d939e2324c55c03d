"""Inferred locales: contacts.locale_inferred says the contact's language was read from their
number's country or their own words rather than given, so their words may still correct it
and a locale given by a client replaces it for good.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Before this revision a stored locale was given by a client or read from the customer's
    # words; both stay as they are (not inferred), as a locale read from words was final then.
    # A plain ADD COLUMN, as in 0010: a batch would copy the contacts table.
    op.add_column(
        "contacts",
        sa.Column("locale_inferred", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("locale_inferred")
