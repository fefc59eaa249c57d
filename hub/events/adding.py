"""The upserts that add: a row inserted, or its sums added to the row with its key. How
the daily rollup, the durations' histogram and the message counts are written."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Insert, Integer, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite

from hub.store.bucket_counts import counts_plus, counts_with
from hub.store.many import Many
from hub.store.schema import metric_histogram

_MADE: dict[tuple[str, str], Many] = {}


def adding_upsert(dialect: str, table: Table, sums: Sequence[str]) -> Many:
    """INSERT ... ON CONFLICT (the primary key) DO UPDATE adding each of `sums`; built once
    per dialect and table, a deferred write. Callers sort their rows by key, so two writers
    take their row locks in one order (no deadlock)."""
    return _upsert(
        dialect,
        table.name,
        table,
        lambda stmt: {name: table.c[name] + stmt.excluded[name] for name in sums},
    )


def histogram_upsert(dialect: str) -> Many:
    """The histogram's adding upsert: each row gives its key, a `bucket` and how many
    durations (`n`) to add to that bucket's count. Sorted by key, as adding_upsert's."""
    bucket, n = bindparam("bucket", type_=Integer), bindparam("n", type_=Integer)
    return _upsert(
        dialect,
        "histogram",
        metric_histogram,
        lambda _: {"counts": counts_plus(metric_histogram.c.counts, bucket, n)},
        values={"counts": counts_with(bucket, n)},
    )


def _upsert(
    dialect: str,
    name: str,
    table: Table,
    changes: Callable[[Insert], dict[str, Any]],
    values: dict[str, Any] | None = None,
) -> Many:
    """The upsert on `table`'s primary key setting `changes(insert)`, made once per dialect
    and `name`: a deferred write."""
    made = _MADE.get((dialect, name))
    if made is None:
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        stmt = insert(table)
        if values:
            stmt = stmt.values(**values)
        made = _MADE[dialect, name] = Many(
            stmt.on_conflict_do_update(
                index_elements=[c.name for c in table.primary_key.columns],
                set_=changes(stmt),
            ),
            deferred=True,
        )
    return made
