"""automatic assignment: agent capacity, availability, skills (#14)

Revision ID: 0018_assignment
Revises: 0017_sla
Create Date: 2026-12-06 09:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_assignment"
down_revision = "0017_sla"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "agent_availability",
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("availability", sa.String(length=8), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_availability_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agent_availability")),
    )
    op.create_table(
        "assignment_pointers",
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("last_agent", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_assignment_pointers_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_assignment_pointers")),
    )
    op.create_table(
        "ticket_assignments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("ticket_id", _ID, nullable=False),
        sa.Column("assignee", sa.String(length=64), nullable=False),
        sa.Column("previous", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_assignments_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_assignments")),
    )
    op.create_index(
        op.f("ix_ticket_assignments_ticket_id"), "ticket_assignments", ["ticket_id"], unique=False
    )
    op.create_index("ix_tickets_assignee_status", "tickets", ["assignee", "status"], unique=False)
    op.create_index(
        "ix_tickets_unassigned",
        "tickets",
        ["team_id", "status", "created_at"],
        unique=False,
        sqlite_where=sa.text("assignee IS NULL"),
        postgresql_where=sa.text("assignee IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_unassigned", table_name="tickets")
    op.drop_index("ix_tickets_assignee_status", table_name="tickets")
    op.drop_index(op.f("ix_ticket_assignments_ticket_id"), table_name="ticket_assignments")
    op.drop_table("ticket_assignments")
    op.drop_table("assignment_pointers")
    op.drop_table("agent_availability")
