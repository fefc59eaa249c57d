"""GDPR erasure audit and ledger, retention (#17)

Revision ID: 0024_privacy
Revises: 0023_duplicates
Create Date: 2026-12-06 09:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_privacy"
down_revision = "0023_duplicates"
branch_labels = None
depends_on = None


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "erasure_audit",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_audit")),
    )
    op.create_table(
        "erasure_ledger",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_erasure_ledger")),
    )


def downgrade() -> None:
    op.drop_table("erasure_ledger")
    op.drop_table("erasure_audit")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
