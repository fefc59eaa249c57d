"""metric events and their daily rollup (#15)

Revision ID: 0019_metric_events
Revises: 0018_assignment
Create Date: 2026-12-06 09:40:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0019_metric_events"
down_revision = "0018_assignment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
