"""alerts: operator alert events

Revision ID: 0014_alerts
Revises: 0009_meta
Create Date: 2026-11-23 17:50:53.058885
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_alerts"
down_revision = "0009_meta"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("connector_id", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column(
            "dead_outbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dead_outbox_id"], ["outbox.id"], name=op.f("fk_alert_events_dead_outbox_id_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_alert_events_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.create_index("ix_alert_events_pending", ["status", "target", "id"], unique=False)
        batch_op.create_index(
            "ux_alert_events_open",
            ["kind", "connector_id", "target"],
            unique=True,
            sqlite_where=sa.text("resolved_at IS NULL AND kind != 'dead'"),
            postgresql_where=sa.text("resolved_at IS NULL AND kind != 'dead'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_alert_events_open",
            sqlite_where=sa.text("resolved_at IS NULL AND kind != 'dead'"),
            postgresql_where=sa.text("resolved_at IS NULL AND kind != 'dead'"),
        )
        batch_op.drop_index("ix_alert_events_pending")

    op.drop_table("alert_events")
