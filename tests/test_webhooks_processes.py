"""Webhooks across real `hub serve` processes: a hub SIGKILLed between the commit of an
event and its delivery delivers it after the restart (same webhook-id); two hubs on one
PostgreSQL database deliver each event once."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from hub.store import Store
from hub.store.schema import outgoing_events, webhook_deliveries
from tests.hub_processes import HubProcess, hub_process
from tests.support import SmtpSink, base_config
from tests.webhook_support import Receiver, endpoint_config, wait_for_types

pytestmark = pytest.mark.slow
FORM = "/channels/contact/"


def hub_file(
    tmp_path: Path, name: str, storage_url: str, smtp: SmtpSink, url: str, timeout: float = 30
) -> HubProcess:
    data = base_config(
        storage_url,
        smtp.port,
        webhooks=[endpoint_config(url, timeout_seconds=timeout)],
        bot={"faq": None},
    )
    return hub_process(tmp_path, name, data)


async def post(http: aiohttp.ClientSession, hub: HubProcess, email: str) -> Any:
    body = {"name": "Customer", "email": email, "message": "Where is my parcel?"}
    async with http.post(hub.url(FORM), json=body) as resp:
        assert resp.status in (200, 201), await resp.text()
        return await resp.json()


async def test_a_hub_killed_before_delivering_delivers_after_restart(
    storage_url: str, tmp_path: Path, smtp: SmtpSink
) -> None:
    receiver = await Receiver(hold=asyncio.Event()).start()  # takes the POST, never answers
    # On PostgreSQL the restarted hub waits out the dead one's lease: twice the timeout
    # and 5 s. (On SQLite, one process, it frees them at start.)
    first = hub_file(tmp_path, "first", storage_url, smtp, receiver.url, timeout=1)
    second = HubProcess(first.config_file, tmp_path / "second.log", first.port)
    try:
        await first.start()
        async with aiohttp.ClientSession() as http:
            await post(http, first, "ann@example.com")  # committed: the 2xx says so
        await wait_for_types(receiver, ["customer.created"])
        in_flight = [d.headers["webhook-id"] for d in receiver.received]
        first.kill()
        await first.stop()
        assert first.proc is not None and first.proc.returncode == -signal.SIGKILL
        assert receiver.hold is not None
        receiver.hold.set()  # the dead hub's request is gone; answer the next ones
        receiver.hold = None
        await second.start()
        got = await wait_for_types(
            receiver,
            ["customer.created"] * 2 + ["ticket.created", "message.received", "message.sent"],
            timeout=60,
        )
    finally:
        await first.stop()
        await second.stop()
        await receiver.stop()
    ids = [d.headers["webhook-id"] for d in receiver.received]
    # The event in flight at the kill came again with its id; after it, the rest in order.
    assert ids[: len(in_flight)] == in_flight and ids[len(in_flight)] == in_flight[0]
    assert [p["type"] for p in got][1:4] == [
        "customer.created",
        "ticket.created",
        "message.received",
    ]
    assert all(d.error is None for d in receiver.received)


async def test_two_hubs_deliver_each_event_once(
    pg_url: str, tmp_path: Path, smtp: SmtpSink
) -> None:
    receiver = await Receiver().start()
    hubs = [hub_file(tmp_path, f"hub{n}", pg_url, smtp, receiver.url) for n in (1, 2)]
    store = Store(pg_url)
    n_posts = 20
    try:
        await hubs[0].start()  # the first migrates the database
        await hubs[1].start()
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(
                *(post(http, hubs[i % 2], f"c{i}@example.com") for i in range(n_posts))
            )
        await smtp.wait_for(n_posts, timeout=60)
        await wait_for_types(
            receiver,
            ["customer.created", "ticket.created", "message.received", "message.sent"] * n_posts,
            timeout=60,
        )
        await asyncio.sleep(1.5)  # a second delivery of anything would arrive by now
        async with store.read() as conn:
            events = (
                await conn.execute(select(func.count()).select_from(outgoing_events))
            ).scalar()
            claimers = {
                r.claimed_by for r in await conn.execute(select(webhook_deliveries.c.claimed_by))
            }
    finally:
        for hub in hubs:
            await hub.stop()
        await store.close()
        await receiver.stop()
    ids = Counter(d.headers["webhook-id"] for d in receiver.received)
    assert len(ids) == events == 4 * n_posts
    assert set(ids.values()) == {1}, [i for i, n in ids.items() if n > 1]
    assert all(d.error is None for d in receiver.received)
    assert claimers == {None}  # every lease released once delivered
