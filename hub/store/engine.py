"""The database handle: engine set-up per dialect, migrations at start, transactions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


def utcnow() -> datetime:
    return datetime.now(UTC)


class Store:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: AsyncEngine = create_async_engine(
                url, connect_args={"timeout": 30}, pool_size=pool_size, max_overflow=0
            )
            _sqlite_pragmas(self.engine)
        else:
            self.engine = create_async_engine(
                url, pool_size=pool_size, max_overflow=5, pool_pre_ping=True
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
        """A write transaction (on SQLite, BEGIN IMMEDIATE: no lock-upgrade deadlocks)."""
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

    async def ping(self) -> None:
        async with self.read() as conn:
            await asyncio.wait_for(conn.exec_driver_sql("SELECT 1"), timeout=5)

    async def close(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(engine: AsyncEngine) -> None:
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

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("hub_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
