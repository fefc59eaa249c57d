"""automatic assignment: agent capacity, availability, skills (#14)

Revision ID: 0018_assignment
Revises: 0017_sla
Create Date: 2026-12-06 09:40:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0018_assignment"
down_revision = "0017_sla"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
