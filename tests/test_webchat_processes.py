"""Several hub processes on one PostgreSQL database: an agent's reply reaches the visitor's
tab whichever process's outbox sends it (hub.channels.broadcast over LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from hub.app import Hub
from hub.channels import broadcast
from hub.channels.broadcast import Broadcast
from hub.messages import Address, OutboundMessage
from tests.support import FreezingProxy, base_config, hub_running, hub_url, make_config
from tests.webchat_support import ORIGIN, open_tab


@pytest.fixture
async def two_hubs(pg_url: str) -> AsyncIterator[tuple[Hub, Hub]]:
    """The hub holding the visitor's tab, and another on the same database, both listening
    (PostgreSQL only: SQLite serves one hub process by design)."""
    data = base_config(pg_url)
    data["connectors"] = [{"id": "chat", "type": "webchat", "allowed_origins": [ORIGIN]}]
    config = make_config(data)
    async with hub_running(config) as tabs_hub, hub_running(config) as other:
        await asyncio.wait_for(tabs_hub.broadcast.wait_connected(), 10)
        await asyncio.wait_for(other.broadcast.wait_connected(), 10)
        yield tabs_hub, other


async def test_a_reply_sent_by_another_process_reaches_the_open_tab(
    two_hubs: tuple[Hub, Hub],
) -> None:
    tabs_hub, other = two_hubs
    async with open_tab(tabs_hub) as tab:
        sender = other.connectors["chat"]
        long = "উত্তর " * 4000  # far past NOTIFY's 8,000 bytes: sent in parts
        for key, text in [("r1", "Your parcel left Dhaka today."), ("r2", long)]:
            msg = OutboundMessage("chat", Address("webchat", tab.visitor), text, key)
            await sender.send(msg)
            frame = await tab.reply(text)
            assert (frame["dir"], frame["id"]) == ("out", f"k{key}")


async def test_notices_flow_again_after_the_listening_connection_is_cut(
    two_hubs: tuple[Hub, Hub], caplog: pytest.LogCaptureFixture
) -> None:
    tabs_hub, other = two_hubs
    async with open_tab(tabs_hub) as tab:
        async with tabs_hub.store.write() as conn:
            cut = await conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            )
            assert len(cut.all()) == 2  # both processes' listening connections
        # Replies published while the connections are down are not heard live (the
        # history has them); once reconnected, the next one is.
        heard = None
        for attempt in range(50):
            text = f"reply {attempt}"
            msg = OutboundMessage("chat", Address("webchat", tab.visitor), text, f"c{attempt}")
            await other.connectors["chat"].send(msg)
            try:
                heard = await tab.next(lambda f, t=text: f.get("text") == t, timeout=0.5)
                break
            except TimeoutError:
                continue
        assert heard is not None and heard["dir"] == "out"
    assert "broadcast connection lost" in caplog.text


async def test_a_connection_closed_without_asyncpgs_termination_callback_is_replaced(
    two_hubs: tuple[Hub, Hub],
) -> None:
    """asyncpg skips termination listeners when it aborts a connection itself (as under a
    query the server cut); the hub notices the closed connection all the same."""
    tabs_hub, other = two_hubs
    old = other.broadcast._conn
    old._protocol.abort()  # asyncpg's own abort path: no termination callback
    assert old.is_closed()
    async with asyncio.timeout(10):
        await replaced(other.broadcast, old)
    async with open_tab(tabs_hub) as tab:
        msg = OutboundMessage("chat", Address("webchat", tab.visitor), "after abort", "ab1")
        await other.connectors["chat"].send(msg)
        frame = await tab.reply("after abort")
        assert frame["dir"] == "out"


@contextlib.asynccontextmanager
async def through_freezing_proxy(
    pg_url: str, on_trouble: Callable[[str], None] = lambda _what: None
) -> AsyncIterator[tuple[FreezingProxy, Broadcast, Broadcast]]:
    """(the proxy, a Broadcast reaching PostgreSQL through it, one connected directly),
    both running and connected."""
    url = make_url(pg_url)
    proxy = FreezingProxy(url.host or "127.0.0.1", url.port or 5432)
    server = await proxy.start()
    far = Broadcast(url.set(port=proxy.port).render_as_string(hide_password=False), on_trouble)
    near = Broadcast(pg_url)
    tasks = [asyncio.create_task(b.run()) for b in (far, near)]
    try:
        async with asyncio.timeout(10):
            await far.wait_connected()
            await near.wait_connected()
        yield proxy, far, near
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        server.close()


async def replaced(b: Broadcast, old: object) -> None:
    """Until `b` listens on a connection other than `old`."""
    # No event marks "replaced": the test watches the outcome itself.
    while b._conn in (None, old):  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def heard_something(heard: list[dict[str, object]]) -> None:
    while not heard:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def test_a_publish_on_a_hung_connection_gives_up_and_a_new_one_carries_on(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # LISTEN/NOTIFY is PostgreSQL's; on SQLite notices stay in the process.
    monkeypatch.setattr(broadcast, "PUBLISH_SECONDS", 0.5)
    assert Broadcast(pg_url).state == "connecting"  # before it runs
    troubles: list[str] = []
    heard: list[dict[str, object]] = []
    async with through_freezing_proxy(pg_url, troubles.append) as (proxy, hung, listener):
        listener.subscribe("t", heard.append)
        assert (hung.state, troubles) == ("connected", [])
        async with asyncio.timeout(20):
            first = hung._conn
            proxy.freeze()
            started = asyncio.get_running_loop().time()
            await hung.publish("t", {"n": 1})  # lost on the dead connection
            assert asyncio.get_running_loop().time() - started < 3
            await replaced(hung, first)
            await hung.publish("t", {"n": 2})
            await heard_something(heard)
        assert heard == [{"n": 2}]
        assert hung.state == "connected"
        assert troubles[:2] == ["publish", "connection"]  # counted for the metrics


async def test_a_listening_connection_gone_silent_is_replaced(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # LISTEN/NOTIFY is PostgreSQL's; on SQLite notices stay in the process.
    monkeypatch.setattr(broadcast, "PUBLISH_SECONDS", 0.5)
    monkeypatch.setattr(broadcast, "PING_SECONDS", 0.3)
    heard: list[dict[str, object]] = []
    async with through_freezing_proxy(pg_url) as (proxy, deaf, sender):
        deaf.subscribe("t", heard.append)
        async with asyncio.timeout(20):
            first = deaf._conn
            proxy.freeze()
            await sender.publish("t", {"n": 1})  # into the silence
            await replaced(deaf, first)
            await sender.publish("t", {"n": 2})
            await heard_something(heard)
        assert heard == [{"n": 2}]


async def test_health_shows_the_broadcast_where_there_is_one(storage_url: str) -> None:
    """On PostgreSQL /healthz says whether live notices reach the other processes; a
    lost connection counts in hub_errors_total{where="broadcast_connection"}."""
    config = make_config(base_config(storage_url))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        await asyncio.wait_for(hub.broadcast.wait_connected(), 10)
        async with http.get(hub_url(hub, "/healthz")) as resp:
            body = await resp.json()
        if storage_url.startswith("sqlite"):
            assert "broadcast" not in body  # one process: nothing to connect
            return
        assert body["broadcast"] == "connected"
        async with hub.store.write() as conn:
            await conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            )
        async with asyncio.timeout(15):
            while 'where="broadcast_connection"} 1.0' not in (  # noqa: ASYNC110
                text := await (await http.get(hub_url(hub, "/metrics"))).text()
            ):
                await asyncio.sleep(0.1)
            await hub.broadcast.wait_connected()
        assert 'hub_errors_total{where="broadcast_connection"} 1.0' in text
        async with http.get(hub_url(hub, "/healthz")) as resp:
            assert (await resp.json())["broadcast"] == "connected"
