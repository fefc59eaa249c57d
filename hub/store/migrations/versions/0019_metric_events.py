"""metric events and their daily rollup (#15)

Revision ID: 0019_metric_events
Revises: 0018_assignment
Create Date: 2026-12-06 09:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_metric_events"
down_revision = "0018_assignment"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "metric_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ticket_id", _ID, nullable=True),
        sa.Column("customer_id", _ID, nullable=True),
        sa.Column("team_id", sa.String(length=40), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("agent", sa.String(length=100), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("business_seconds", sa.Float(), nullable=True),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_events")),
    )
    with op.batch_alter_table("metric_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_metric_events_kind_time",
            [
                "kind",
                "occurred_at",
                "team_id",
                "agent",
                "channel",
                "seconds",
                "business_seconds",
                "ticket_id",
            ],
            unique=False,
        )
        batch_op.create_index("ix_metric_events_ticket", ["ticket_id", "kind"], unique=False)
        for name, column in (
            ("ix_metric_events_seconds", "seconds"),
            ("ix_metric_events_business", "business_seconds"),
        ):
            batch_op.create_index(
                name,
                ["kind", column, "occurred_at", "team_id", "agent"],
                unique=False,
                sqlite_where=sa.text(f"{column} IS NOT NULL"),
                postgresql_where=sa.text(f"{column} IS NOT NULL"),
            )
    op.create_table(
        "metric_daily",
        sa.Column("dim", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("member", sa.String(length=100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("seconds_n", sa.Integer(), nullable=False),
        sa.Column("seconds_sum", sa.Float(), nullable=False),
        sa.Column("business_n", sa.Integer(), nullable=False),
        sa.Column("business_sum", sa.Float(), nullable=False),
        sa.Column("value_sum", sa.Integer(), nullable=False),
        sa.Column("positive", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "dim", "team_id", "day", "kind", "member", name=op.f("pk_metric_daily")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "metric_histogram",
        sa.Column("dim", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("basis", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("member", sa.String(length=100), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "dim",
            "team_id",
            "kind",
            "basis",
            "day",
            "member",
            "bucket",
            name=op.f("pk_metric_histogram"),
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("metric_histogram")
    op.drop_table("metric_daily")
    op.drop_table("metric_events")
