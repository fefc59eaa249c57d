"""Appending a batch's rows to a log table (metric events, outgoing events, outbox rows) in
one executemany, the INSERT compiled once per dialect and the values converted column by
column.

`conn.execute(table.insert(), rows)` does the same, but SQLAlchemy builds and processes
each row's parameters one by one: for the dozen log rows a web form message writes, that
cost three times what the insert itself did (`bench/ingest_webform.py`). Only plain
INSERTs of whole rows go this way: no RETURNING, no SQL expressions as values, and every
column with a default given explicitly (the rows say what they hold).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class _Prepared:
    sql: str
    # The rows' keys in the statement's parameter order.
    keys: tuple[str, ...]
    # (position, converter) for the columns whose values the driver cannot take as they
    # are; a converter takes None too (JSON's makes it 'null', as SQLAlchemy's insert does).
    convert: tuple[tuple[int, Callable[[Any], Any]], ...]


# Per dialect object: converters belong to their engine (its JSON serializer, say).
_PREPARED: weakref.WeakKeyDictionary[Dialect, dict[tuple[str, tuple[str, ...]], _Prepared]] = (
    weakref.WeakKeyDictionary()
)


def _prepare(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> _Prepared:
    per_dialect = _PREPARED.setdefault(dialect, {})
    found = per_dialect.get((table.name, keys))
    if found is not None:
        return found
    unknown = set(keys) - set(table.c.keys())
    if unknown:
        raise ValueError(f"{table.name} has no columns {sorted(unknown)}")
    # Python-side defaults are SQLAlchemy's to fill, row by row; the database's own apply.
    missing = [c.key for c in table.columns if c.key not in keys and c.default is not None]
    if missing:
        raise ValueError(f"rows appended to {table.name} must give {sorted(missing)}")
    compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
    order = tuple(compiled.positiontup or keys)
    convert = tuple(
        (i, process)
        for i, key in enumerate(order)
        if (process := table.c[key].type._cached_bind_processor(dialect)) is not None
    )
    found = per_dialect[(table.name, keys)] = _Prepared(str(compiled), order, convert)
    return found


async def append_rows(
    conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """INSERT `rows` (dicts with the same keys) into `table`, in the caller's transaction."""
    if not rows:
        return
    keys = tuple(rows[0])
    prepared = _prepare(conn.dialect, table, keys)
    order, convert = prepared.keys, prepared.convert
    params: list[tuple[Any, ...]] = []
    for row in rows:
        if len(row) != len(keys):
            raise ValueError(f"rows appended to {table.name} must all have the keys {keys}")
        values = [row[k] for k in order]
        for i, process in convert:
            values[i] = process(values[i])
        params.append(tuple(values))
    await conn.exec_driver_sql(prepared.sql, params)
