"""outgoing events and signed webhooks (#16)

Revision ID: 0021_webhooks
Revises: 0020_surveys
Create Date: 2026-12-06 09:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_webhooks"
down_revision = "0020_surveys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outgoing_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_key", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_outgoing_events_event_key")),
    )
    with op.batch_alter_table("outgoing_events", schema=None) as batch_op:
        batch_op.create_index("ix_outgoing_events_created_at", ["created_at"], unique=False)
        batch_op.create_index(op.f("ix_outgoing_events_customer_id"), ["customer_id"], unique=False)


def downgrade() -> None:
    op.drop_table("outgoing_events")
