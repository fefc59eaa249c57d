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

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_tickets_sla_due_at", ["sla_due_at"], unique=False)
    op.create_table(
        "sla_targets",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("ticket_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(length=60), nullable=False),
        sa.Column("calendar", sa.String(length=40), nullable=False),
        sa.Column("target_seconds", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("running_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consumed_seconds", sa.Float(), nullable=False),
        sa.Column("paused_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("achieved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breach_notify_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breach_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_sla_targets_ticket_id_tickets"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sla_targets"),
        sa.UniqueConstraint(
            "ticket_id", "kind", "cycle", name="uq_sla_targets_ticket_id_kind_cycle"
        ),
    )
    op.create_index("ix_sla_targets_status_due_at", "sla_targets", ["status", "due_at"])
    op.create_index("ix_sla_targets_status_warn_at", "sla_targets", ["status", "warn_at"])
    op.create_index(
        "ix_sla_targets_status_breach_notify_at", "sla_targets", ["status", "breach_notify_at"]
    )
    op.create_table(
        "sla_events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("ticket_id", Id, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("what", sa.String(length=24), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_sla_events_ticket_id_tickets"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sla_events"),
    )
    op.create_index("ix_sla_events_ticket_id", "sla_events", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_sla_events_ticket_id", table_name="sla_events")
    op.drop_table("sla_events")
    op.drop_index("ix_sla_targets_status_breach_notify_at", table_name="sla_targets")
    op.drop_index("ix_sla_targets_status_warn_at", table_name="sla_targets")
    op.drop_index("ix_sla_targets_status_due_at", table_name="sla_targets")
    op.drop_table("sla_targets")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_sla_due_at")
        batch_op.drop_column("sla_due_at")
