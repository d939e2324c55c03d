"""SMS delivery: contacts.unreachable and messages.media_urls

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(
            sa.Column('unreachable', sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('media_urls', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('media_urls')
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('unreachable')
