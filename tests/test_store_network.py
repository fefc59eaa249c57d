"""PostgreSQL behind a network that dies without a word: the store gives up on a hung
connection within its statement bound and carries on with a new one."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from hub.store import engine
from tests.support import FreezingProxy


async def test_a_hung_connection_fails_in_bounded_time_and_the_next_one_works(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # PostgreSQL only: SQLite is a file, with no network to lose.
    monkeypatch.setattr(engine, "PG_STATEMENT_SECONDS", 1)
    caplog.set_level(logging.CRITICAL, "sqlalchemy.pool")  # closing the hung one fails, loudly
    url = make_url(pg_url)
    proxy = FreezingProxy(url.host or "127.0.0.1", url.port or 5432)
    server = await proxy.start()
    store = engine.Store(url.set(port=proxy.port).render_as_string(hide_password=False))
    try:
        async with store.engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
        proxy.freeze()  # the pooled connection now hears nothing
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(30), store.engine.connect() as conn:
                await conn.scalar(text("SELECT 2"))
        assert loop.time() - started < 10
        async with asyncio.timeout(10), store.engine.connect() as conn:
            assert await conn.scalar(text("SELECT 3")) == 3
    finally:
        await store.engine.dispose()
        server.close()
