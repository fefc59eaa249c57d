"""GDPR erasure audit and ledger, retention (#17)

Revision ID: 0024_privacy
Revises: 0023_duplicates
Create Date: 2026-12-06 09:40:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0024_privacy"
down_revision = "0023_duplicates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
