"""SLA: tickets.sla_due_at, and the SLA tables (#14)

Revision ID: 0017_sla
Revises: 0016_request_hash
Create Date: 2026-12-06 09:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_sla"
down_revision = "0016_request_hash"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_tickets_sla_due_at", ["sla_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_sla_due_at")
        batch_op.drop_column("sla_due_at")
