"""duplicate detection and its review queue (#17)

Revision ID: 0023_duplicates
Revises: 0022_crm_sync
Create Date: 2026-12-06 09:40:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0023_duplicates"
down_revision = "0022_crm_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
