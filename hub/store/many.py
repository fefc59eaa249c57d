"""A statement run for a batch's rows in one executemany, compiled once per dialect, the
values converted column by column: the ingest's log rows (metric events, outgoing events,
outbox rows) and its per-message updates.

`conn.execute(statement, rows)` does the same, but SQLAlchemy builds and processes each
row's parameters one by one: for the dozen rows a web form message writes, that cost
three times what the inserts themselves did (`bench/ingest_webform.py`). Only plain
statements go this way: no RETURNING, no IN lists, and an INSERT's rows give every
column that has a Python-side default (the rows say what they hold).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Delete, Insert, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class _Prepared:
    sql: str
    # The rows' keys in the statement's parameter order.
    keys: tuple[str, ...]
    # (position, converter) for the values the driver cannot take as they are; converters
    # take None too (JSON's makes it 'null', as SQLAlchemy's own execution does).
    convert: tuple[tuple[int, Callable[[Any], Any]], ...]


class Many:
    """`statement`, made once (at import), run for many rows: `await stmt.run(conn, rows)`."""

    def __init__(self, statement: Insert | Update | Delete) -> None:
        if statement._returning:
            raise ValueError("Many runs statements without RETURNING")
        self.statement = statement
        # Per dialect object: converters belong to their engine (its JSON serializer).
        self._prepared: weakref.WeakKeyDictionary[Dialect, dict[tuple[str, ...], _Prepared]] = (
            weakref.WeakKeyDictionary()
        )

    async def run(self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """In the caller's transaction; every row has the same keys."""
        if not rows:
            return
        keys = tuple(rows[0])
        prepared = self._prepare(conn.dialect, keys)
        order, convert = prepared.keys, prepared.convert
        params: list[tuple[Any, ...]] = []
        for row in rows:
            if len(row) != len(keys):
                raise ValueError(f"every row must have the keys {keys}")
            values = [row[k] for k in order]
            for i, process in convert:
                values[i] = process(values[i])
            params.append(tuple(values))
        await conn.exec_driver_sql(prepared.sql, params)

    def _prepare(self, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared:
        per_dialect = self._prepared.setdefault(dialect, {})
        found = per_dialect.get(keys)
        if found is None:
            found = per_dialect[keys] = self._compile(dialect, keys)
        return found

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared:
        statement = self.statement
        if isinstance(statement, Insert):
            table = statement.table
            unknown = set(keys) - set(table.c.keys())
            if unknown:
                raise ValueError(f"{table.name} has no columns {sorted(unknown)}")
            # Python-side defaults are SQLAlchemy's to fill row by row; the database's apply.
            missing = [c.key for c in table.c if c.key not in keys and c.default is not None]
            if missing:
                raise ValueError(f"rows inserted into {table.name} must give {sorted(missing)}")
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        if any(b.expanding for b in compiled.binds.values()):
            raise ValueError("Many runs statements without IN lists")
        order = tuple(compiled.positiontup or ())
        absent = set(order) - set(keys)
        if absent:
            raise ValueError(f"the rows lack the parameters {sorted(absent)}")
        convert = tuple(
            (i, process)
            for i, key in enumerate(order)
            if (process := compiled.binds[key].type._cached_bind_processor(dialect)) is not None
        )
        return _Prepared(str(compiled), order, convert)
