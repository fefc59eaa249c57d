"""CRM sync: remote ids, cursors (#16)

Revision ID: 0022_crm_sync
Revises: 0021_webhooks
Create Date: 2026-12-06 09:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_crm_sync"
down_revision = "0021_webhooks"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # outgoing_events ids never reused (see hub.store.schema): SQLite needs the table
        # made again with AUTOINCREMENT; its rows and indexes are copied.
        with op.batch_alter_table(
            "outgoing_events", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
    op.create_table(
        "crm_links",
        sa.Column("connector_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", Id, autoincrement=False, nullable=False),
        sa.Column("remote_id", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erase", sa.String(length=16), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("connector_id", "customer_id", name=op.f("pk_crm_links")),
    )
    op.create_index("ix_crm_links_due", "crm_links", ["connector_id", "due_at"], unique=False)
    op.create_table(
        "crm_event_marks",
        sa.Column("connector_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", Id, autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("connector_id", "event_id", name=op.f("pk_crm_event_marks")),
    )
    op.create_table(
        "crm_cursors",
        sa.Column("connector_id", sa.String(length=40), nullable=False),
        sa.Column("event_floor", Id, nullable=False),
        sa.Column("pulled_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connector_id", name=op.f("pk_crm_cursors")),
    )
    op.create_table(
        "customer_field_edits",
        sa.Column("customer_id", Id, autoincrement=False, nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=48), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "field", name=op.f("pk_customer_field_edits")),
    )


def downgrade() -> None:
    op.drop_table("customer_field_edits")
    op.drop_table("crm_cursors")
    op.drop_table("crm_event_marks")
    op.drop_index("ix_crm_links_due", table_name="crm_links")
    op.drop_table("crm_links")
