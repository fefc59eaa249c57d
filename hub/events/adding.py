"""The upsert that adds: a row inserted, or its sums added to the row with its key. How
the daily rollup, the durations' histogram and the message counts are written."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from hub.store.many import Many

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
