"""CSAT surveys (#15)

Revision ID: 0020_surveys
Revises: 0019_metric_events
Create Date: 2026-12-06 09:40:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0020_surveys"
down_revision = "0019_metric_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
