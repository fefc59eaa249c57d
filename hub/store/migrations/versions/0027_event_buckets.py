"""quicker medians: every metric event's histogram bucket; week and month histogram rows (#15)

metric_events gains `bucket` and `business_bucket`, generated from the seconds (virtual
columns on SQLite, stored on PostgreSQL), and the indexes a median reads its buckets'
durations by lead with them and the time: a report reads the durations of its range in
a few buckets, not every duration of those buckets since the first.

metric_histogram gains `span` in its key (day, week, month): the existing rows are the
days', and the weeks' and months' are added up from them.

Revision ID: 0027_event_buckets
Revises: 0026_metric_counts
Create Date: 2026-12-06 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0027_event_buckets"
down_revision = "0026_metric_counts"
branch_labels = None
depends_on = None

# hub.store.duration_buckets as of this revision (a migration keeps the logic of its day):
# 32 buckets per factor of eight from a second, the last from 2**22 seconds.
_PER, _TIERS = 32, 7


def _bucket(column: str, dialect: str) -> str:
    def whole(x: str) -> str:
        # PostgreSQL's CAST rounds; SQLite's truncates (its floor() is optional).
        return f"CAST({x} AS INTEGER)" if dialect == "sqlite" else f"CAST(floor({x}) AS INTEGER)"

    whens = [f"WHEN ({column} < 1.0) THEN 0"]
    for t in range(_TIERS):
        upper = 16.0 * 8.0**t
        width = upper / _PER
        whens.append(
            f"WHEN ({column} < {upper!r}) THEN {1 + t * _PER} + {whole(f'{column} / {width!r}')}"
        )
    return f"CASE {' '.join(whens)} ELSE {1 + _TIERS * _PER} END"


_INDEXES = (
    ("seconds", "bucket", "ix_metric_events_seconds", "ix_metric_events_bucket"),
    ("business_seconds", "business_bucket", "ix_metric_events_business",
     "ix_metric_events_business_bucket"),
)  # fmt: skip


_HISTOGRAM_KEY = ("dim", "team_id", "kind", "basis", "span", "day", "member", "bucket")


def _histogram_spans(dialect: str) -> None:
    if dialect == "sqlite":
        # SQLite changes no table's key: a new table (WITHOUT ROWID, as before) takes the rows.
        op.create_table(
            "metric_histogram_new",
            sa.Column("dim", sa.String(length=16), nullable=False),
            sa.Column("team_id", sa.String(length=40), nullable=False),
            sa.Column("kind", sa.String(length=24), nullable=False),
            sa.Column("basis", sa.String(length=8), nullable=False),
            sa.Column("span", sa.String(length=8), nullable=False),
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("member", sa.String(length=100), nullable=False),
            sa.Column("bucket", sa.Integer(), nullable=False),
            sa.Column("n", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint(*_HISTOGRAM_KEY, name="pk_metric_histogram"),
            sqlite_with_rowid=False,
        )
        op.execute(
            "INSERT INTO metric_histogram_new SELECT dim, team_id, kind, basis, 'day', day,"
            " member, bucket, n FROM metric_histogram"
        )
        op.drop_table("metric_histogram")
        op.rename_table("metric_histogram_new", "metric_histogram")
        starts = {
            "week": "date(day, '-6 days', 'weekday 1')",
            "month": "date(day, 'start of month')",
        }
    else:
        op.add_column(
            "metric_histogram",
            sa.Column("span", sa.String(length=8), nullable=False, server_default="day"),
        )
        op.alter_column("metric_histogram", "span", server_default=None)
        op.drop_constraint("pk_metric_histogram", "metric_histogram", type_="primary")
        op.create_primary_key("pk_metric_histogram", "metric_histogram", list(_HISTOGRAM_KEY))
        starts = {
            "week": "CAST(date_trunc('week', day) AS DATE)",
            "month": "CAST(date_trunc('month', day) AS DATE)",
        }
    for span, start in starts.items():
        op.execute(
            "INSERT INTO metric_histogram (dim, team_id, kind, basis, span, day, member, bucket, n)"
            f" SELECT dim, team_id, kind, basis, '{span}', {start}, member, bucket, SUM(n)"
            " FROM metric_histogram WHERE span = 'day'"
            f" GROUP BY dim, team_id, kind, basis, {start}, member, bucket"
        )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _histogram_spans(dialect)
    for value, bucket, old, new in _INDEXES:
        # SQLite adds only virtual generated columns to a table; PostgreSQL before 18 only
        # stored ones.
        generated = sa.Computed(sa.text(_bucket(value, dialect)), persisted=dialect != "sqlite")
        op.add_column("metric_events", sa.Column(bucket, sa.Integer(), generated))
        op.drop_index(old, table_name="metric_events")
        op.create_index(
            new,
            "metric_events",
            ["kind", bucket, "occurred_at", value, "team_id", "agent"],
            sqlite_where=sa.text(f"{value} IS NOT NULL"),
            postgresql_where=sa.text(f"{value} IS NOT NULL"),
        )


def downgrade() -> None:
    op.execute("DELETE FROM metric_histogram WHERE span <> 'day'")
    with op.batch_alter_table("metric_histogram") as batch:
        batch.drop_constraint("pk_metric_histogram", type_="primary")
        batch.drop_column("span")
        batch.create_primary_key(
            "pk_metric_histogram", ["dim", "team_id", "kind", "basis", "day", "member", "bucket"]
        )
    for value, bucket, old, new in _INDEXES:
        op.drop_index(new, table_name="metric_events")
        op.create_index(
            old,
            "metric_events",
            ["kind", value, "occurred_at", "team_id", "agent"],
            sqlite_where=sa.text(f"{value} IS NOT NULL"),
            postgresql_where=sa.text(f"{value} IS NOT NULL"),
        )
        op.drop_column("metric_events", bucket)
