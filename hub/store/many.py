"""A statement run for a batch's rows, compiled once per dialect, the values converted
column by column: the ingest's inserts (messages, tickets, identities, log rows such as
metric events, outgoing events and outbox rows) and its per-message updates.

`conn.execute(statement, rows)` does the same, but SQLAlchemy builds and processes each
row's parameters one by one: for the dozen rows a web form message writes, that cost
three times what the inserts themselves did (`bench/ingest_webform.py`).

Without RETURNING, one executemany. An INSERT with RETURNING is sent as one statement
with a VALUES group per row (as SQLAlchemy's "insertmanyvalues" does), and gives back
the returned rows in no promised order: match them by a key, never by position.

Only plain statements go this way: no IN lists, RETURNING only of columns the driver
hands back as they are (ids, strings), and an INSERT's rows give every column that has a
Python-side default (the rows say what they hold).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Delete, Insert, Row, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.sqlite_driver import defer_write

# Bound parameters per statement: SQLite allows 32,766, PostgreSQL 32,767.
MAX_PARAMETERS = 30_000


# Statements kept per prepared statement for the batch sizes seen last: a batch's size
# varies (1 to `ingest.max_batch`), and one text per size would grow with it.
SIZES_KEPT = 16


@dataclass
class _Prepared:
    sql: str
    # The rows' keys in the statement's parameter order.
    keys: tuple[str, ...]
    # (position, converter) for the values the driver cannot take as they are; converters
    # take None too (JSON's makes it 'null', as SQLAlchemy's own execution does).
    convert: tuple[tuple[int, Callable[[Any], Any]], ...]
    # RETURNING: one row's VALUES group, and the statement for n rows, made as needed.
    group: str | None = None
    # PostgreSQL's $1, $2 ...: the group's text around them, and their numbers.
    texts: list[str] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    for_rows: dict[int, str] = field(default_factory=dict)

    def sql_for(self, n: int) -> str:
        found = self.for_rows.get(n)
        if found is None:
            group = self.group
            assert group is not None
            values = ", ".join(f"({g})" for g in self._groups(group, n))
            found = self.sql.replace(f"VALUES ({group})", f"VALUES {values}", 1)
            if len(self.for_rows) >= SIZES_KEPT:
                del self.for_rows[next(iter(self.for_rows))]
            self.for_rows[n] = found
        return found

    def _groups(self, group: str, n: int) -> list[str]:
        if not self.numbers:
            return [group] * n
        # Each row's group numbers on from the last row's.
        width = len(self.keys)
        out = []
        for i in range(n):
            at = i * width
            parts = [self.texts[0]]
            for number, text in zip(self.numbers, self.texts[1:], strict=True):
                parts += ("$", str(number + at), text)
            out.append("".join(parts))
        return out


class Many:
    """`statement`, made once (at import, or per store with `Store.statement`), run for
    many rows: `await stmt.run(conn, rows)`."""

    def __init__(self, statement: Insert | Update | Delete, *, deferred: bool = False) -> None:
        self.returning = bool(statement._returning)
        if self.returning and not isinstance(statement, Insert):
            raise ValueError("Many runs RETURNING for INSERTs only")
        if deferred and self.returning:
            raise ValueError("a deferred write returns nothing")
        self.statement = statement
        # On SQLite, sent with the transaction's next statement or commit instead of on
        # its own (hub.store.sqlite_driver.defer_write): for writes whose outcome nobody
        # reads and that nothing is expected to refuse (log rows, counters, sums).
        self.deferred = deferred
        # Per dialect object: converters belong to their engine (its JSON serializer).
        self._prepared: weakref.WeakKeyDictionary[Dialect, dict[tuple[str, ...], _Prepared]] = (
            weakref.WeakKeyDictionary()
        )

    async def run(self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> list[Row[Any]]:
        """In the caller's transaction; every row has the same keys. What RETURNING gave
        (in no promised order), else []."""
        if not rows:
            return []
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
        if not self.returning:
            if self.deferred and _deferred(conn, prepared.sql, params):
                return []
            await conn.exec_driver_sql(prepared.sql, params)
            return []
        returned: list[Row[Any]] = []
        step = max(1, MAX_PARAMETERS // max(1, len(order)))
        for start in range(0, len(params), step):
            chunk = params[start : start + step]
            flat = tuple(v for p in chunk for v in p)
            result = await conn.exec_driver_sql(prepared.sql_for(len(chunk)), flat)
            returned.extend(result.all())
        return returned

    def _prepare(self, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared:
        per_dialect = self._prepared.setdefault(dialect, {})
        found = per_dialect.get(keys)
        if found is None:
            found = per_dialect[keys] = self._compile(dialect, keys)
        return found

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared:
        statement = self.statement
        compiled = statement.compile(
            dialect=dialect, column_keys=list(keys), for_executemany=self.returning
        )
        if isinstance(statement, Insert):
            _check_insert(statement, keys, set(compiled.binds), dialect)
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
        prepared = _Prepared(compiled.string, order, convert)
        if self.returning:
            many_values = compiled._insertmanyvalues
            assert many_values is not None
            group = prepared.group = many_values.single_values_expr
            if dialect.paramstyle.startswith("numeric"):
                pieces = re.split(r"\$(\d+)", group)
                prepared.texts, prepared.numbers = pieces[0::2], [int(x) for x in pieces[1::2]]
        return prepared


def _deferred(conn: AsyncConnection, sql: str, params: list[tuple[Any, ...]]) -> bool:
    # Outside a begun transaction nothing would commit it: SQLAlchemy begins one on a
    # statement it runs, and a deferred write is not one.
    if conn.dialect.name != "sqlite" or not conn.in_transaction():
        return False
    return defer_write(conn.sync_connection.connection.dbapi_connection, sql, params)


def _check_insert(
    statement: Insert, keys: tuple[str, ...], binds: set[str], dialect: Dialect
) -> None:
    table = statement.table
    # Keys are columns, or parameters of the statement's own expressions.
    unknown = set(keys) - set(table.c.keys()) - binds
    if unknown:
        raise ValueError(f"{table.name} has no columns {sorted(unknown)}")
    # Python-side defaults are SQLAlchemy's to fill row by row; the database's apply.
    missing = [c.key for c in table.c if c.key not in keys and c.default is not None]
    if missing:
        raise ValueError(f"rows inserted into {table.name} must give {sorted(missing)}")
    for column in statement._returning:
        if getattr(column, "type", None) is None or column.type._cached_result_processor(
            dialect, None
        ):
            raise ValueError(f"Many returns columns the driver gives as they are, not {column}")
