"""one histogram row per key, holding every bucket's count (#15)

metric_histogram's rows were one per (key, bucket) with its count `n`; now one per key with
`counts`, the count of each of the 226 buckets as big-endian 32-bit integers in a BLOB
(bytea) (hub.store.bucket_counts). A 90-day per-agent report
reads ~500 rows instead of ~20,000.

Revision ID: 0028_histogram_rows
Revises: 0027_event_buckets
Create Date: 2026-12-06 23:50:00
"""

import struct
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0028_histogram_rows"
down_revision = "0027_event_buckets"
branch_labels = None
depends_on = None

# hub.store.bucket_counts as of this revision: buckets 0..225.
_SIZE = 226
_KEY = ("dim", "team_id", "kind", "basis", "span", "day", "member")
_BATCH = 5_000


def _new_table(columns: list[sa.Column[Any]], key: tuple[str, ...]) -> None:
    op.create_table(
        "metric_histogram_new",
        sa.Column("dim", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("basis", sa.String(length=8), nullable=False),
        sa.Column("span", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("member", sa.String(length=100), nullable=False),
        *columns,
        sa.PrimaryKeyConstraint(*key, name="pk_metric_histogram_new"),
        sqlite_with_rowid=False,
    )


def _swap(dialect: str) -> None:
    op.drop_table("metric_histogram")
    op.rename_table("metric_histogram_new", "metric_histogram")
    if dialect == "postgresql":
        # A constraint's name is the schema's: the new table's differed until the old went.
        op.execute(
            "ALTER TABLE metric_histogram RENAME CONSTRAINT pk_metric_histogram_new"
            " TO pk_metric_histogram"
        )


def _packed(rows: Iterator[Any]) -> Iterator[dict[str, Any]]:
    """SQLite: (key..., bucket, n) rows in key order -> one row per key with its BLOB."""
    key: tuple[Any, ...] | None = None
    counts = [0] * _SIZE
    for r in rows:
        k = tuple(r[:7])
        if k != key:
            if key is not None:
                yield dict(zip(_KEY, key, strict=True)) | {
                    "counts": struct.pack(f">{_SIZE}i", *counts)
                }
            key, counts = k, [0] * _SIZE
        counts[r[7]] += r[8]
    if key is not None:
        yield dict(zip(_KEY, key, strict=True)) | {"counts": struct.pack(f">{_SIZE}i", *counts)}


def _insert_batches(bind: Any, sql: str, rows: Iterator[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _BATCH:
            bind.execute(sa.text(sql), batch)
            batch = []
    if batch:
        bind.execute(sa.text(sql), batch)


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    pg = dialect == "postgresql"
    _new_table([sa.Column("counts", sa.LargeBinary(), nullable=False)], _KEY)
    keys = ", ".join(_KEY)
    if pg:
        op.execute(
            f"INSERT INTO metric_histogram_new ({keys}, counts)"
            f" SELECT {keys}, (SELECT string_agg(int4send(coalesce(u.n, 0)), '' ORDER BY g.b)"
            f" FROM generate_series(0, {_SIZE - 1}) AS g(b)"
            " LEFT JOIN unnest(o.bs, o.ns) AS u(b, n) ON u.b = g.b)"
            f" FROM (SELECT {keys}, array_agg(bucket) AS bs, array_agg(n) AS ns"
            f" FROM metric_histogram GROUP BY {keys}) AS o"
        )
    else:
        # Read in the key's order (the table is kept in it: WITHOUT ROWID).
        read = f"SELECT {keys}, bucket, n FROM metric_histogram ORDER BY {keys}"
        rows = bind.execute(sa.text(read))
        names = ", ".join(f":{k}" for k in _KEY)
        _insert_batches(
            bind,
            f"INSERT INTO metric_histogram_new ({keys}, counts) VALUES ({names}, :counts)",
            _packed(iter(rows.fetchall())),
        )
    _swap(dialect)


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    pg = dialect == "postgresql"
    _new_table(
        [sa.Column("bucket", sa.Integer(), nullable=False),
         sa.Column("n", sa.Integer(), nullable=False)],
        (*_KEY, "bucket"),
    )  # fmt: skip
    keys = ", ".join(_KEY)
    if pg:
        op.execute(
            f"INSERT INTO metric_histogram_new ({keys}, bucket, n)"
            f" SELECT {keys}, b, n FROM metric_histogram, generate_series(0, {_SIZE - 1}) AS b,"
            " LATERAL (SELECT ('x' || encode(substring(counts FROM 4 * b + 1 FOR 4), 'hex'))"
            "::bit(32)::int4 AS n) AS c WHERE n <> 0"
        )
    else:
        names = ", ".join(f":{k}" for k in _KEY)

        def unpacked() -> Iterator[dict[str, Any]]:
            read = f"SELECT {keys}, counts FROM metric_histogram"
            for r in bind.execute(sa.text(read)).fetchall():
                for b, n in enumerate(struct.unpack(f">{_SIZE}i", r[7])):
                    if n:
                        yield dict(zip(_KEY, r[:7], strict=True)) | {"bucket": b, "n": n}

        _insert_batches(
            bind,
            f"INSERT INTO metric_histogram_new ({keys}, bucket, n) VALUES ({names}, :bucket, :n)",
            unpacked(),
        )
    _swap(dialect)
