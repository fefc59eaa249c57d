"""campaign sends: one message per campaign and customer

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 15:47:56.394008
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_sends",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("campaign", sa.String(length=40), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_campaign_sends_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_sends")),
        sa.UniqueConstraint(
            "campaign", "customer_id", name=op.f("uq_campaign_sends_campaign_customer_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("campaign_sends")
