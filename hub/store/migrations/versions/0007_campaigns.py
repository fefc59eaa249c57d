"""campaigns created by CLI

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 15:57:43.347157
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_campaigns")),
    )


def downgrade() -> None:
    op.drop_table("campaigns")
