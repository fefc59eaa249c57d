"""The database handle: engine set-up per dialect, migrations at start, transactions."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

_T = TypeVar("_T")

PG_CONNECT_SECONDS = 10
# Far above any statement the hub makes (a sweep's page, a migration step).
PG_STATEMENT_SECONDS = 120
# How long a writer waits for another of this process's writers: SQLite's busy_timeout.
WRITE_WAIT_SECONDS = 30.0
# The turn of every step that mirrors the config into the store at start (teams, agents,
# canned responses, webhook endpoints).
CONFIG_SYNC = "config-sync"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _turn_key(turn: str) -> int:
    """A stable signed 64-bit key (advisory locks take a bigint) for the turn's name."""
    return int.from_bytes(hashlib.blake2b(turn.encode(), digest_size=8).digest(), signed=True)


class Store:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self._statements: dict[Callable[..., Any], Any] = {}
        # SQLite's writers in this process, one at a time, per event loop.
        self._writers: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            WeakKeyDictionary()
        )
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            from hub.store.sqlite_driver import OneTripDBAPI

            self.engine: AsyncEngine = create_async_engine(
                url,
                module=OneTripDBAPI(),
                connect_args={"timeout": 30},
                pool_size=pool_size,
                max_overflow=0,
                json_serializer=_json_dumps,
            )
            _sqlite_pragmas(self.engine)
        else:
            self.engine = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=5,
                pool_pre_ping=True,
                json_serializer=_json_dumps,
                # A network that dies without a word leaves a socket that waits for ever (TCP
                # gives up after ~15 minutes): connecting and every statement get a bound, so
                # the caller's retry or 503 happens instead of a hung writer.
                connect_args={
                    "timeout": PG_CONNECT_SECONDS,
                    "command_timeout": PG_STATEMENT_SECONDS,
                },
            )

    @property
    def single_process(self) -> bool:
        """SQLite is a one-process store: leases left by a dead process can be reclaimed."""
        return self.dialect == "sqlite"

    async def migrate(self) -> None:
        from hub.store.migrate import upgrade

        await upgrade(self.engine)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction (on SQLite, BEGIN IMMEDIATE: no lock-upgrade deadlocks).

        On SQLite this process's writers also queue here first: SQLite takes one writer
        at a time anyway, and one that finds the lock taken polls for it in sleeps of up
        to 100 ms, long after the other committed (an IMAP ingest lost 0.5 s of 3.4 to
        that, its batches racing the connector's own state writes). Other processes are
        still met by busy_timeout.
        """
        if self.dialect != "sqlite":
            async with self._transaction() as conn:
                yield conn
            return
        loop = asyncio.get_running_loop()
        lock = self._writers.get(loop)
        if lock is None:
            lock = self._writers[loop] = asyncio.Lock()
        async with asyncio.timeout(WRITE_WAIT_SECONDS):
            await lock.acquire()
        try:
            async with self._transaction() as conn:
                yield conn
        finally:
            lock.release()

    @asynccontextmanager
    async def write_in_turn(self, turn: str) -> AsyncIterator[AsyncConnection]:
        """A write transaction that processes doing the same `turn` take one at a time.

        For read-then-write steps every process runs at start: two hubs started together
        on a fresh PostgreSQL database both read "no such team" and both insert it, and
        the second fails to start. Holding a transaction-scoped advisory lock, the second
        reads after the first committed. SQLite's writers take turns already.
        """
        async with self.write() as conn:
            if self.dialect == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _turn_key(turn)}
                )
            yield conn

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(hub_write=True)
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    def insert(self, table: Any) -> Any:
        """An INSERT that supports on_conflict_do_nothing on either dialect."""
        return sqlite.insert(table) if self.dialect == "sqlite" else postgresql.insert(table)

    def statement(self, build: Callable[[Store], _T]) -> _T:
        """`build(self)`, built once: the statements of every ingest batch are the same, and
        building one (and its cache key) each time was ~5% of an ingest's CPU."""
        try:
            return self._statements[build]  # type: ignore[no-any-return]
        except KeyError:
            made = self._statements[build] = build(self)
            return made

    async def ping(self) -> None:
        async with self.read() as conn:
            await asyncio.wait_for(conn.exec_driver_sql("SELECT 1"), timeout=5)

    async def close(self) -> None:
        await self.engine.dispose()


def _json_dumps(value: Any) -> str:
    """json.dumps, without its call for the empty lists and dicts most JSON cells hold
    (tags, meta, addresses: seven of the ten a web form message writes)."""
    if not value:
        if type(value) is list:
            return "[]"
        if type(value) is dict:
            return "{}"
    return json.dumps(value)


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    from hub.store.bucket_counts import register_sqlite
    from hub.store.sqlite_driver import begin_with_next_statement

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Transactions are begun by hand below, so the driver must not begin its own.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (the hub's promise); a power cut may
        # lose the last transactions, which `synchronous=FULL` would trade speed for.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        register_sqlite(dbapi_conn)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("hub_write", False)
        sql = "BEGIN IMMEDIATE" if write else "BEGIN"
        if not begin_with_next_statement(conn.connection.dbapi_connection, sql):
            conn.exec_driver_sql(sql)
