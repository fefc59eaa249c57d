"""The upserts that add: a row inserted, or its sums added to the row with its key. How
the daily rollup, the durations' histogram and the message counts are written."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Integer, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite

from hub.store.bucket_counts import counts_plus, counts_with
from hub.store.many import Many
from hub.store.schema import metric_histogram

_MADE: dict[tuple[str, str], Many] = {}


def adding_upsert(dialect: str, table: Table, sums: Sequence[str]) -> Many:
    """INSERT ... ON CONFLICT (the primary key) DO UPDATE adding each of `sums`; built once
    per dialect and table, a deferred write. Callers sort their rows by key, so two writers
    take their row locks in one order (no deadlock)."""
    made = _MADE.get((dialect, table.name))
    if made is None:
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        stmt = insert(table)
        made = _MADE[dialect, table.name] = Many(
            stmt.on_conflict_do_update(
                index_elements=[c.name for c in table.primary_key.columns],
                set_={name: table.c[name] + stmt.excluded[name] for name in sums},
            ),
            deferred=True,
        )
    return made


def histogram_upsert(dialect: str) -> Many:
    """The histogram's adding upsert: each row gives its key, a `bucket` and how many
    durations (`n`) to add to that bucket's count. Sorted by key, as adding_upsert's."""
    made = _MADE.get((dialect, "histogram"))
    if made is None:
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        bucket, n = bindparam("bucket", type_=Integer), bindparam("n", type_=Integer)
        stmt = insert(metric_histogram).values(counts=counts_with(bucket, n))
        made = _MADE[dialect, "histogram"] = Many(
            stmt.on_conflict_do_update(
                index_elements=[c.name for c in metric_histogram.primary_key.columns],
                set_={"counts": counts_plus(metric_histogram.c.counts, bucket, n)},
            ),
            deferred=True,
        )
    return made
