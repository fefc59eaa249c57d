"""SQLAlchemy's aiosqlite adapter, with one trip to the database thread per statement.

aiosqlite runs each sqlite3 call in its own thread; SQLAlchemy's adapter makes four calls
for a statement that returns rows (make a cursor, execute, fetch all, close) and three for
one that does not, each a hand-over to that thread and back to the event loop. Here the
cursor does all of it in one call: the same SQL on the same connection in the same
transaction, with a quarter of the hand-overs (`bench/ingest_webform.py` spends most of
its SQLite time in them). Server-side cursors (streaming results) keep SQLAlchemy's way.

A transaction's BEGIN rides with its first statement (`begin_with_next_statement`), and a
commit or rollback with no transaction open in SQLite is not sent: with the pool's
rollback on check-in, a write took four trips besides its statements, now one.

Writes whose outcome nobody reads (`defer_write`, `hub.store.many.Many(deferred=True)`:
metric events and their sums, outgoing events, an ingest batch's outbox rows) ride the
same way, with the connection's next statement or its commit: in order, in the
transaction, each without a trip and SQLAlchemy's execution of its own (~170 us a
statement here). One that fails fails the statement or commit it rode with, and so the
transaction; a rollback drops them unsent.
"""

from __future__ import annotations

import collections
import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import await_only

_Outcome = tuple[Any, int, int | None, list[Any]]


# (sql, rows) of a write run with executemany.
_Write = tuple[str, Sequence[Any]]


def _run(
    conn: sqlite3.Connection,
    begin: str | None,
    writes: list[_Write],
    sql: str | None,
    params: Any,
    many: bool,
) -> _Outcome:
    """In the database thread: the whole life of a cursor, in one go, after the writes
    that ride with it."""
    if begin is not None:
        conn.execute(begin)
    for write_sql, rows in writes:
        conn.executemany(write_sql, rows)
    if sql is None:
        return None, -1, None, []
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(sql, params)
        elif params is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, params)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor:
    """The DB-API cursor SQLAlchemy drives, its results fetched with the statement."""

    server_side = False
    arraysize = 1

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._rows: collections.deque[Any] = collections.deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    def _call(self, sql: str | None, params: Any, many: bool) -> None:
        try:
            outcome = await_only(self._trip(sql, params, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description, self.rowcount, self.lastrowid, rows = outcome
        self._rows = collections.deque(rows)

    async def _trip(self, sql: str | None, params: Any, many: bool) -> _Outcome:
        # SQLAlchemy serialises statements on one connection with this lock (2.1; 2.0 has
        # none and needs none, its adapter awaiting each call in turn).
        mutex = getattr(self._adapt_connection, "_execute_mutex", None)
        async with mutex if mutex is not None else contextlib.nullcontext():
            # Taken at once: should BEGIN fail, no transaction is open to end.
            begin = _take_begin(self._connection)
            writes = _take_writes(self._connection)
            # aiosqlite's own queue to its thread, as its cursor methods use it.
            result: _Outcome = await self._connection._execute(
                _run, self._connection._conn, begin, writes, sql, params, many
            )
            return result

    def flush(self) -> None:
        """Send what rides with the next statement (BEGIN, deferred writes) now."""
        self._call(None, None, many=False)

    def execute(self, operation: str, parameters: Any = None) -> None:
        self._call(operation, parameters, many=False)

    def executemany(self, operation: str, seq_of_parameters: Sequence[Any]) -> None:
        self._call(operation, seq_of_parameters, many=True)

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        """Nothing to close: the sqlite3 cursor was closed in the database thread."""

    def setinputsizes(self, *inputsizes: Any) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        n = min(self.arraysize if size is None else size, len(self._rows))
        return [self._rows.popleft() for _ in range(n)]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows


# The aiosqlite connection carries the pending BEGIN: the adapter has fixed slots.
_PENDING = "_hub_pending_begin"


def _take_begin(connection: Any) -> str | None:
    begin: str | None = getattr(connection, _PENDING, None)
    if begin is not None:
        setattr(connection, _PENDING, None)
    return begin


_WRITES = "_hub_pending_writes"


def _take_writes(connection: Any) -> list[_Write]:
    writes: list[_Write] | None = getattr(connection, _WRITES, None)
    if not writes:
        return []
    setattr(connection, _WRITES, None)
    return writes


def defer_write(dbapi_connection: Any, sql: str, rows: Sequence[Any]) -> bool:
    """Have `sql` run for `rows` (executemany) with the connection's next statement or
    commit, for a write whose outcome nobody reads. False when the connection is not
    ours, and the caller must run it itself."""
    if not isinstance(dbapi_connection, _Connection):
        return False
    connection = dbapi_connection._connection
    writes: list[_Write] | None = getattr(connection, _WRITES, None)
    if writes is None:
        writes = []
        setattr(connection, _WRITES, writes)
    writes.append((sql, rows))
    return True


def begin_with_next_statement(dbapi_connection: Any, sql: str) -> bool:
    """Have `sql` (BEGIN, BEGIN IMMEDIATE) sent with the connection's next statement.
    False when the connection is not ours, and the caller must send it itself."""
    if not isinstance(dbapi_connection, _Connection):
        return False
    setattr(dbapi_connection._connection, _PENDING, sql)
    return True


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> Any:
        if server_side:
            # A streamed result is read inside its transaction, after the writes before it.
            OneTripCursor(self).flush()
            return super().cursor(server_side=True)
        return OneTripCursor(self)

    def _transaction_open(self) -> bool:
        if _take_begin(self._connection) is not None:
            return False  # begun, but no statement ran: SQLite never opened it
        raw = self._connection._connection
        # Read outside the database thread, but no statement of ours is running there.
        return raw is not None and raw.in_transaction

    def commit(self) -> None:
        if getattr(self._connection, _WRITES, None):
            # In one trip, after the BEGIN if no statement sent it: a failing write fails
            # the commit (the transaction stays open for the rollback that follows).
            OneTripCursor(self).execute("COMMIT")
        elif self._transaction_open():
            super().commit()

    def rollback(self) -> None:
        _take_writes(self._connection)  # never sent: nothing to undo
        if self._transaction_open():
            super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """Pass as `module=` to create_async_engine for a sqlite+aiosqlite URL."""

    def __init__(self) -> None:
        super().__init__(__import__("aiosqlite"), sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> Any:
        connection = super().connect(*arg, **kw)
        connection.__class__ = _Connection
        return connection
