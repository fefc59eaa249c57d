"""Checkpoints, leases and quarantine that connectors keep in the hub's database."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from hub.channels.storage import DbConnectorStorage
from hub.store import Store
from hub.store.schema import quarantine


async def test_checkpoints_leases_and_quarantine(storage_url: str) -> None:
    store = Store(storage_url)
    await store.migrate()
    try:
        a = DbConnectorStorage(store, "mailbox", "process-a")
        b = DbConnectorStorage(store, "mailbox", "process-b")
        other = DbConnectorStorage(store, "other", "process-a")

        assert await a.get("INBOX") is None
        await a.put("INBOX", {"uidvalidity": 7, "last_uid": 41})
        await a.put("INBOX", {"uidvalidity": 7, "last_uid": 42})
        assert await b.get("INBOX") == {"uidvalidity": 7, "last_uid": 42}
        assert await other.get("INBOX") is None  # namespaced per connector

        assert await a.acquire_lease("INBOX", ttl_seconds=30)
        assert not await b.acquire_lease("INBOX", ttl_seconds=30)
        assert await a.acquire_lease("INBOX", ttl_seconds=30)  # renewal by the holder
        await a.release_lease("INBOX")
        assert await b.acquire_lease("INBOX", ttl_seconds=0.2)
        assert not await a.acquire_lease("INBOX", ttl_seconds=30)
        await asyncio.sleep(0.3)
        assert await a.acquire_lease("INBOX", ttl_seconds=30)  # b's lease expired

        raw = b"From: broken\r\n\r\n\xff\xfe"
        first = await a.quarantine(raw, "no Message-ID and no Date", external_id="uid:5")
        again = await a.quarantine(raw, "no Message-ID and no Date", external_id="uid:5")
        assert first == again
        async with store.read() as conn:
            rows = (await conn.execute(select(quarantine))).all()
        assert len(rows) == 1
        assert rows[0].raw == raw and rows[0].reason == "no Message-ID and no Date"
    finally:
        await store.close()


async def test_lease_goes_to_exactly_one_of_many_contenders(storage_url: str) -> None:
    stores = [Store(storage_url) for _ in range(2)]
    await stores[0].migrate()
    try:
        contenders = [DbConnectorStorage(stores[i % 2], "mailbox", f"p{i}") for i in range(8)]
        won = await asyncio.gather(*(c.acquire_lease("INBOX", 30) for c in contenders))
    finally:
        for s in stores:
            await s.close()
    assert sum(won) == 1
