"""month rows in the daily rollup (#15)

metric_daily gains `span` in its key (day, month), as metric_histogram did in 0027 (which
also keeps weeks): the existing rows are the days', and the months' are added up from
them. A 365-day report reads twelve months' rows instead of 365 days'; the backlog,
summed over all time, the months before its end's month.

Revision ID: 0029_rollup_spans
Revises: 0028_histogram_rows
Create Date: 2026-12-07 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0029_rollup_spans"
down_revision = "0028_histogram_rows"
branch_labels = None
depends_on = None

_KEY = ("dim", "team_id", "span", "day", "kind", "member")
_SUMS = ("n", "seconds_n", "seconds_sum", "business_n", "business_sum", "value_sum", "positive")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # SQLite changes no table's key: a new table (WITHOUT ROWID, as before) takes the rows.
        op.create_table(
            "metric_daily_new",
            sa.Column("dim", sa.String(length=16), nullable=False),
            sa.Column("team_id", sa.String(length=40), nullable=False),
            sa.Column("span", sa.String(length=8), nullable=False),
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
            sa.PrimaryKeyConstraint(*_KEY, name="pk_metric_daily"),
            sqlite_with_rowid=False,
        )
        op.execute(
            "INSERT INTO metric_daily_new SELECT dim, team_id, 'day', day, kind, member,"
            f" {', '.join(_SUMS)} FROM metric_daily"
        )
        op.drop_table("metric_daily")
        op.rename_table("metric_daily_new", "metric_daily")
        starts = {"month": "date(day, 'start of month')"}
    else:
        op.add_column(
            "metric_daily",
            sa.Column("span", sa.String(length=8), nullable=False, server_default="day"),
        )
        op.alter_column("metric_daily", "span", server_default=None)
        op.drop_constraint("pk_metric_daily", "metric_daily", type_="primary")
        op.create_primary_key("pk_metric_daily", "metric_daily", list(_KEY))
        starts = {"month": "CAST(date_trunc('month', day) AS DATE)"}
    sums = ", ".join(f"SUM({c})" for c in _SUMS)
    for span, start in starts.items():
        op.execute(
            f"INSERT INTO metric_daily ({', '.join(_KEY)}, {', '.join(_SUMS)})"
            f" SELECT dim, team_id, '{span}', {start}, kind, member, {sums}"
            " FROM metric_daily WHERE span = 'day'"
            f" GROUP BY dim, team_id, {start}, kind, member"
        )

    if dialect == "sqlite" and _has_statistics():
        # The new table has none; where the others have some (someone ran ANALYZE), the
        # planner mixing the two chose slower plans (per-agent report 61 -> 100 ms p95):
        # it gets its own.
        op.execute("ANALYZE metric_daily")


def _has_statistics() -> bool:
    found = sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
    return op.get_bind().execute(found).first() is not None


def downgrade() -> None:
    op.execute("DELETE FROM metric_daily WHERE span <> 'day'")
    with op.batch_alter_table("metric_daily") as batch:
        batch.drop_constraint("pk_metric_daily", type_="primary")
        batch.drop_column("span")
        batch.create_primary_key("pk_metric_daily", ["dim", "team_id", "day", "kind", "member"])
