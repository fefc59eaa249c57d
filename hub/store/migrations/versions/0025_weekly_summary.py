"""weekly summary sends: one per summary and week (#15)

Revision ID: 0025_weekly_summary
Revises: 0024_privacy
Create Date: 2026-12-06 10:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0025_weekly_summary"
down_revision = "0024_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "weekly_summary_sends",
        sa.Column("summary", sa.String(length=40), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("summary", "week_start", name=op.f("pk_weekly_summary_sends")),
    )


def downgrade() -> None:
    op.drop_table("weekly_summary_sends")
