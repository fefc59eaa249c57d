"""CSAT surveys (#15)

Revision ID: 0020_surveys
Revises: 0019_metric_events
Create Date: 2026-12-06 09:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_surveys"
down_revision = "0019_metric_events"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", _ID, nullable=False),
        sa.Column("ticket_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("cycle_message_id", _ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("agent", sa.String(length=100), nullable=True),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("outbox_id", _ID, nullable=True),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_surveys_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_surveys_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint(
            "ticket_id", "cycle_message_id", name=op.f("uq_surveys_ticket_id_cycle_message_id")
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_surveys_token_hash")),
    )
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_surveys_customer_created", ["customer_id", "created_at"], unique=False
        )
    op.create_table(
        "survey_responses",
        sa.Column("id", _ID, nullable=False),
        sa.Column("survey_id", _ID, nullable=False),
        sa.Column("ticket_id", _ID, nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_survey_responses_survey_id_surveys")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_survey_responses_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("survey_id", name=op.f("uq_survey_responses_survey_id")),
    )
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.create_index("ix_survey_responses_answered_at", ["answered_at"], unique=False)
        batch_op.create_index(op.f("ix_survey_responses_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_table("survey_responses")
    op.drop_table("surveys")
