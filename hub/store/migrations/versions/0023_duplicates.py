"""duplicate detection and its review queue (#17)

Revision ID: 0023_duplicates
Revises: 0022_crm_sync
Create Date: 2026-12-06 09:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_duplicates"
down_revision = "0022_crm_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("duplicate_suggestions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("reasons", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("decided_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_duplicate_suggestions_status_score", ["status", "score"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("duplicate_suggestions", schema=None) as batch_op:
        batch_op.drop_index("ix_duplicate_suggestions_status_score")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decided_by")
        batch_op.drop_column("reasons")
        batch_op.drop_column("score")
