"""The SQLite driver's saved trips (hub/store/sqlite_driver.py) keep SQLite's transactions
as they were: what SQLite itself executes is traced, and the hand-overs to aiosqlite's
thread are counted, on a real database file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.util import await_only

from hub.store import Store
from hub.store.schema import teams


class Traced:
    """Every SQL text SQLite runs, and every trip to aiosqlite's thread."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.trips = 0

    def clear(self) -> None:
        self.sql.clear()
        self.trips = 0

    def ends(self) -> list[str]:
        """The transaction control statements, in order."""
        keep = ("BEGIN", "COMMIT", "ROLLBACK")
        return [
            s.split()[0] + (" IMMEDIATE" if "IMMEDIATE" in s else "")
            for s in self.sql
            if s.startswith(keep)
        ]


@pytest.fixture
async def traced(tmp_path: Path) -> AsyncIterator[tuple[Store, Traced]]:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", pool_size=1)
    await store.migrate()
    seen = Traced()

    @event.listens_for(store.engine.sync_engine, "connect")
    def _trace(dbapi_conn: Any, _record: Any) -> None:
        aio = dbapi_conn._connection
        await_only(aio._execute(aio._conn.set_trace_callback, seen.sql.append))
        plain = aio._execute

        async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
            seen.trips += 1
            return await plain(fn, *args, **kwargs)

        aio._execute = counted

    await store.engine.dispose()  # connections made from here on are traced
    try:
        yield store, seen
    finally:
        await store.close()


async def _count_teams(store: Store) -> int:
    async with store.read() as conn:
        return len((await conn.execute(select(teams.c.id))).all())


async def test_a_write_is_one_trip_per_statement_and_commits(
    traced: tuple[Store, Traced],
) -> None:
    store, seen = traced
    await _count_teams(store)  # the pool's connection is made and traced
    seen.clear()
    async with store.write() as conn:
        await conn.execute(insert(teams).values(id="billing", name="billing"))
        await conn.execute(insert(teams).values(id="sales", name="sales"))
    assert seen.ends() == ["BEGIN IMMEDIATE", "COMMIT"]
    assert seen.trips == 3  # two statements (the first carrying BEGIN) and the commit
    assert await _count_teams(store) == 2


async def test_a_failing_write_rolls_back_everything(traced: tuple[Store, Traced]) -> None:
    store, seen = traced
    await _count_teams(store)
    seen.clear()
    with pytest.raises(IntegrityError):
        async with store.write() as conn:
            await conn.execute(insert(teams).values(id="billing", name="billing"))
            await conn.execute(insert(teams).values(id="billing", name="billing"))  # the same id
    assert seen.ends() == ["BEGIN IMMEDIATE", "ROLLBACK"]
    assert await _count_teams(store) == 0


async def test_a_transaction_without_statements_costs_no_trip(
    traced: tuple[Store, Traced],
) -> None:
    store, seen = traced
    await _count_teams(store)
    seen.clear()
    async with store.write():
        pass
    async with store.read():
        pass
    assert seen.sql == [] and seen.trips == 0


async def test_a_read_is_begun_and_ended_once(traced: tuple[Store, Traced]) -> None:
    store, seen = traced
    await _count_teams(store)
    seen.clear()
    async with store.read() as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    assert seen.ends() == ["BEGIN", "COMMIT"]
    assert seen.trips == 2


async def test_a_failed_begin_leaves_nothing_open(tmp_path: Path) -> None:
    """Another process holds the write lock: our BEGIN IMMEDIATE fails with the statement
    it rode with, and the connection is usable once the lock is free."""
    import sqlite3

    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", pool_size=1)
    await store.migrate()

    @event.listens_for(store.engine.sync_engine, "connect")
    def _impatient(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout=50")
        cursor.close()

    await store.engine.dispose()
    other = sqlite3.connect(tmp_path / "hub.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Exception, match="locked"):
            async with store.write() as conn:
                await conn.execute(insert(teams).values(id="billing", name="billing"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    async with store.write() as conn:
        await conn.execute(insert(teams).values(id="sales", name="sales"))
    async with store.read() as conn:
        assert [r.name for r in await conn.execute(select(teams.c.name))] == ["sales"]
    await store.close()


async def test_concurrent_writers_each_commit_alone(traced: tuple[Store, Traced]) -> None:
    store, _ = traced

    async def add(name: str) -> None:
        async with store.write() as conn:
            await conn.execute(insert(teams).values(id=name, name=name))
            await asyncio.sleep(0)  # let the others try to get in
            await conn.execute(teams.update().where(teams.c.name == name).values(name=f"{name}!"))

    await asyncio.gather(*(add(f"team{i}") for i in range(20)))
    async with store.read() as conn:
        names = sorted(r.name for r in await conn.execute(select(teams.c.name)))
    assert names == sorted(f"team{i}!" for i in range(20))
