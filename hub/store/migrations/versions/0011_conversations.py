"""ticket and message conversation

Revision ID: 0011_conversations
Revises: 0008
Create Date: 2026-11-23 17:23:54.489470
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_conversations"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversation", sa.String(length=340), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_messages_conversation"), ["conversation"], unique=False
        )

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversation", sa.String(length=340), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("conversation")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_conversation"))
        batch_op.drop_column("conversation")
