"""CRM sync: remote ids, cursors (#16)

Revision ID: 0022_crm_sync
Revises: 0021_webhooks
Create Date: 2026-12-06 09:40:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0022_crm_sync"
down_revision = "0021_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
