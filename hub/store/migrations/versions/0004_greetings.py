"""greetings and consent-checked outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:44:01.247375
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "greeting_sends",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("occasion", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_greeting_sends_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_greeting_sends")),
        sa.UniqueConstraint(
            "customer_id",
            "occasion",
            "year",
            name=op.f("uq_greeting_sends_customer_id_occasion_year"),
        ),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("birthday_md", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("anniversary_md", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("since_md", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_customers_anniversary_md"), ["anniversary_md"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_customers_birthday_md"), ["birthday_md"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_since_md"), ["since_md"], unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.add_column(sa.Column("consent_channel", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("list_unsubscribe", sa.String(length=500), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_customer_id_customers"), "customers", ["customer_id"], ["id"]
        )

    # Customers from before this revision get their month/day columns too.
    if op.get_bind().dialect.name == "sqlite":
        md = "CAST(strftime('%m%d', {0}) AS INTEGER)"
        since = md.format("created_at")
    else:
        md = "CAST(EXTRACT(MONTH FROM {0}) * 100 + EXTRACT(DAY FROM {0}) AS INTEGER)"
        since = md.format("(created_at AT TIME ZONE 'UTC')")
    op.execute(
        f"UPDATE customers SET birthday_md = {md.format('birthday')}, "
        f"anniversary_md = {md.format('anniversary')}, since_md = {since}"
    )


def downgrade() -> None:

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_customer_id_customers"), type_="foreignkey")
        batch_op.drop_column("list_unsubscribe")
        batch_op.drop_column("consent_channel")
        batch_op.drop_column("customer_id")

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_since_md"))
        batch_op.drop_index(batch_op.f("ix_customers_birthday_md"))
        batch_op.drop_index(batch_op.f("ix_customers_anniversary_md"))
        batch_op.drop_column("since_md")
        batch_op.drop_column("anniversary_md")
        batch_op.drop_column("birthday_md")

    op.drop_table("greeting_sends")
