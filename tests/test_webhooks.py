"""Signed outgoing webhooks against a loopback receiver that verifies each delivery with
the Standard Webhooks reference library, on SQLite and PostgreSQL. The dispatcher's
clock is moved by hand: retries and Retry-After are waited for without sleeping."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from hub.cli.main import main
from hub.config.webhooks import WebhookEndpointConfig
from hub.core.sealed import PREFIX, Sealer
from hub.events.outgoing import (
    CUSTOMER_CREATED,
    MESSAGE_RECEIVED,
    TICKET_CREATED,
    OutgoingEvent,
    emit,
)
from hub.store import Store
from hub.store.schema import alert_events, outgoing_events, webhook_endpoints
from hub.webhooks.deliveries import delivery_log
from hub.webhooks.dispatcher import DispatchSettings, RoundResult, WebhookDispatcher
from hub.webhooks.endpoints import create_endpoint
from hub.webhooks.fanout import unfanned_count
from tests.support import base_config
from tests.webhook_support import OLD_SECRET, SECRET, Clock, Receiver, endpoint_config, tamper


@pytest.fixture
async def store(storage_url: str) -> AsyncIterator[Store]:
    s = Store(storage_url)
    await s.migrate()
    yield s
    await s.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """For what does not depend on the dialect (the claim's SQL is covered on both above)."""
    s = Store(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    await s.migrate()
    yield s
    await s.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


def dispatcher(
    store: Store, clock: Clock, *endpoints: dict[str, Any], **kw: Any
) -> WebhookDispatcher:
    return WebhookDispatcher(
        store,
        [WebhookEndpointConfig.model_validate(e) for e in endpoints],
        sealer=Sealer(b"test hub secret"),
        clock=clock,
        # A round goes on while there is work, however slow a loaded machine makes it.
        settings=DispatchSettings(round_seconds=60, rng=random.Random(7)),
        **kw,
    )


async def record(store: Store, clock: Clock, *events: OutgoingEvent) -> list[str]:
    async with store.write() as conn:
        await emit(conn, list(events), clock())
        rows = await conn.execute(
            select(outgoing_events.c.event_key).order_by(outgoing_events.c.id)
        )
        return [r.event_key for r in rows][-len(events) :]


def opened(customer: int, ticket: int) -> list[OutgoingEvent]:
    return [
        OutgoingEvent(CUSTOMER_CREATED, {"customer_id": customer}, customer_id=customer),
        OutgoingEvent(TICKET_CREATED, {"ticket_id": ticket}, customer, ticket),
        OutgoingEvent(MESSAGE_RECEIVED, {"message_id": ticket * 10}, customer, ticket),
    ]


async def test_every_delivery_verifies_and_a_tampered_body_does_not(
    store: Store, receiver: Receiver
) -> None:
    clock = Clock()
    hooks = dispatcher(store, clock, endpoint_config(receiver.url))
    await hooks.start()
    clock.advance(1)
    keys = await record(store, clock, *opened(1, 1))
    result = await hooks.run_round()
    await hooks.close()

    assert (result.fanned_out, result.delivered) == (3, 3)
    assert [d.error for d in receiver.received] == [None, None, None]
    payloads = receiver.verified()
    assert [p["type"] for p in payloads] == [CUSTOMER_CREATED, TICKET_CREATED, MESSAGE_RECEIVED]
    assert payloads[1]["data"] == {"ticket_id": 1}
    assert payloads[0]["timestamp"].startswith(clock().date().isoformat())
    assert [d.headers["webhook-id"] for d in receiver.received] == keys
    first = receiver.received[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(tamper(first.body), first.headers)
    wrong = "whsec_" + "d3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmc="
    with pytest.raises(WebhookVerificationError):
        Webhook(wrong).verify(first.body, first.headers)


async def test_503_503_200_is_three_attempts_with_one_webhook_id(
    store: Store, receiver: Receiver
) -> None:
    clock = Clock()
    hooks = dispatcher(store, clock, endpoint_config(receiver.url))
    await hooks.start()
    receiver.answers = [(503, {}), (503, {})]
    [key] = await record(store, clock, OutgoingEvent(TICKET_CREATED, {"ticket_id": 5}, 1, 5))
    assert (await hooks.run_once()).delivered == 0
    assert (await hooks.run_once()).attempted == 0  # not due yet: backing off
    clock.advance(30)
    assert (await hooks.run_once()).delivered == 0
    clock.advance(30)
    assert (await hooks.run_once()).delivered == 1
    await hooks.close()

    assert [d.headers["webhook-id"] for d in receiver.received] == [key, key, key]
    assert len({d.headers["webhook-signature"] for d in receiver.received}) >= 1
    assert all(d.error is None for d in receiver.received)
    async with store.read() as conn:
        [entry] = await delivery_log(conn, "bridge")
    assert entry["status"] == "delivered" and entry["webhook_id"] == key
    assert [a["status_code"] for a in entry["log"]] == [503, 503, 200]


async def test_429_retry_after_is_waited_for(sqlite_store: Store, receiver: Receiver) -> None:
    clock = Clock()
    hooks = dispatcher(sqlite_store, clock, endpoint_config(receiver.url))
    await hooks.start()
    receiver.answers = [(429, {"Retry-After": "2"})]
    await record(sqlite_store, clock, OutgoingEvent(TICKET_CREATED, {"ticket_id": 5}, 1, 5))
    first_try = clock()
    assert (await hooks.run_once()).attempted == 1
    clock.advance(1.9)
    assert (await hooks.run_once()).attempted == 0
    clock.advance(0.1)
    assert (await hooks.run_once()).delivered == 1
    await hooks.close()
    async with sqlite_store.read() as conn:
        [entry] = await delivery_log(conn, "bridge")
    times = [a["attempted_at"] for a in entry["log"]]
    assert [a["status_code"] for a in entry["log"]] == [429, 200]
    assert times[0] == first_try.isoformat()
    assert times[1] == (clock()).isoformat()


async def test_410_disables_the_endpoint_and_alerts(
    sqlite_store: Store, receiver: Receiver
) -> None:
    clock = Clock()
    hooks = dispatcher(
        sqlite_store, clock, endpoint_config(receiver.url), alert_targets=("ops-slack",)
    )
    await hooks.start()
    receiver.answers = [(410, {})]
    await record(sqlite_store, clock, *opened(1, 1))
    result = await hooks.run_once()
    clock.advance(3600)
    later = await hooks.run_once()
    await hooks.close()

    assert result.disabled == ["bridge"]
    assert later.attempted == 0  # nothing goes to a disabled endpoint
    async with sqlite_store.read() as conn:
        endpoint = (await conn.execute(select(webhook_endpoints))).one()
        alerts = (await conn.execute(select(alert_events))).all()
    assert endpoint.status == "disabled" and "410" in endpoint.disabled_reason
    assert [(a.kind, a.connector_id, a.target) for a in alerts] == [
        ("webhook_disabled", "bridge", "ops-slack")
    ]


async def test_a_customers_events_go_in_order_per_endpoint(
    store: Store, receiver: Receiver
) -> None:
    clock = Clock()
    hooks = dispatcher(store, clock, endpoint_config(receiver.url))
    await hooks.start()
    receiver.answers = [(500, {})]
    await record(store, clock, OutgoingEvent(TICKET_CREATED, {"n": 1}, 1, 1))
    await record(store, clock, OutgoingEvent(TICKET_CREATED, {"n": 2}, 1, 2))
    await record(store, clock, OutgoingEvent(TICKET_CREATED, {"n": 3}, 2, 3))
    first = await hooks.run_once()
    # Customer 1's first event failed: their second waits; customer 2's goes.
    assert [p["data"]["n"] for p in receiver.verified()] == [1, 3]
    assert first.delivered == 1
    clock.advance(60)  # past the first backoff (5 s at most), within the 5 min receivers allow
    await hooks.run_once()
    await hooks.run_once()
    await hooks.close()
    assert [p["data"]["n"] for p in receiver.verified()] == [1, 3, 1, 2]


async def test_rotation_sends_both_signatures(sqlite_store: Store, receiver: Receiver) -> None:
    clock = Clock()
    hooks = dispatcher(
        sqlite_store, clock, endpoint_config(receiver.url, previous_secret=OLD_SECRET)
    )
    await hooks.start()
    await record(sqlite_store, clock, OutgoingEvent(TICKET_CREATED, {"ticket_id": 1}, 1, 1))
    await hooks.run_once()
    await hooks.close()
    [got] = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(SECRET).verify(got.body, got.headers)["type"] == TICKET_CREATED
    assert Webhook(OLD_SECRET).verify(got.body, got.headers)["type"] == TICKET_CREATED


async def test_failures_in_a_row_disable_the_endpoint(
    sqlite_store: Store, receiver: Receiver
) -> None:
    clock = Clock()
    hooks = dispatcher(sqlite_store, clock, endpoint_config(receiver.url, max_failures=3))
    await hooks.start()
    receiver.answers = [(500, {})] * 5
    for n in range(3):
        await record(sqlite_store, clock, OutgoingEvent(TICKET_CREATED, {"n": n}, n, n))
    result = await hooks.run_once()
    await hooks.close()
    assert result.attempted == 3 and result.disabled == ["bridge"]


async def test_a_loopback_destination_is_refused_without_allow_private(
    sqlite_store: Store, receiver: Receiver
) -> None:
    clock = Clock()
    hooks = dispatcher(sqlite_store, clock, endpoint_config(receiver.url, allow_private=False))
    await hooks.start()
    await record(sqlite_store, clock, OutgoingEvent(TICKET_CREATED, {"ticket_id": 1}, 1, 1))
    result = await hooks.run_once()
    await hooks.close()
    assert result.attempted == 1 and result.delivered == 0
    assert receiver.received == []
    async with sqlite_store.read() as conn:
        [entry] = await delivery_log(conn, "bridge")
    assert "destination refused" in entry["last_error"]


async def test_an_erased_event_is_not_sent(sqlite_store: Store, receiver: Receiver) -> None:
    clock = Clock()
    hooks = dispatcher(sqlite_store, clock, endpoint_config(receiver.url))
    await hooks.start()
    receiver.answers = [(503, {})]
    await record(sqlite_store, clock, OutgoingEvent(TICKET_CREATED, {"ticket_id": 1}, 1, 1))
    await hooks.run_once()
    async with sqlite_store.write() as conn:  # what an erasure does to the customer's events
        await conn.execute(outgoing_events.delete())
    clock.advance(60)
    result = await hooks.run_once()
    await hooks.close()
    assert result.attempted == 1 and len(receiver.received) == 1
    async with sqlite_store.read() as conn:
        [entry] = await delivery_log(conn, "bridge")
    assert entry["status"] == "failed" and entry["last_error"] == "the event was erased"


async def test_the_cli_lists_endpoints_and_redelivers(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = Clock()
    hooks = dispatcher(sqlite_store, clock, endpoint_config(receiver.url))
    await hooks.start()
    [key] = await record(sqlite_store, clock, OutgoingEvent(TICKET_CREATED, {"n": 1}, 1, 1))
    await hooks.run_once()
    data = base_config(str(sqlite_store.engine.url), webhooks=[endpoint_config(receiver.url)])
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(data))
    cli = ["--log-level", "WARNING", "webhooks"]
    assert await asyncio.to_thread(main, [*cli, "list", "--config", str(path)]) == 0
    assert await asyncio.to_thread(main, [*cli, "log", "bridge", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "bridge" in out and "active" in out and f"webhook-id={key}" in out
    async with sqlite_store.read() as conn:
        [entry] = await delivery_log(conn, "bridge")
    redeliver = [*cli, "redeliver", str(entry["id"]), "--config", str(path)]
    assert await asyncio.to_thread(main, redeliver) == 0
    assert await asyncio.to_thread(main, [*cli, "redeliver", "999", "--config", str(path)]) == 1
    clock.advance(60)  # the CLI queued it at the real time, a little after the test's clock
    assert (await hooks.run_once()).delivered == 1
    await hooks.close()
    assert [d.headers["webhook-id"] for d in receiver.received] == [key, key]


async def test_a_name_resolving_to_loopback_is_refused_at_delivery(
    sqlite_store: Store, receiver: Receiver
) -> None:
    # As a DNS rebind would: the name passed the check elsewhere, and now resolves to
    # loopback. The resolver the client connects with refuses it; nothing is sent.
    clock = Clock()
    url = receiver.url.replace("127.0.0.1", "localhost")
    hooks = dispatcher(sqlite_store, clock, endpoint_config(url, allow_private=False))
    await hooks.start()
    await record(sqlite_store, clock, OutgoingEvent(TICKET_CREATED, {"ticket_id": 1}, 1, 1))
    result = await hooks.run_once()
    await hooks.close()
    assert (result.attempted, result.delivered, receiver.received) == (1, 0, [])
    async with sqlite_store.read() as conn:
        [entry] = await delivery_log(conn, "bridge")
    assert entry["last_error"].startswith("destination refused: localhost resolves to")
    assert entry["status"] == "pending"  # retried later: a name may resolve elsewhere again


async def test_each_endpoint_gets_its_own_batch(sqlite_store: Store, receiver: Receiver) -> None:
    other = await Receiver().start()
    clock = Clock()
    hooks = WebhookDispatcher(
        sqlite_store,
        [
            WebhookEndpointConfig.model_validate(endpoint_config(receiver.url)),
            WebhookEndpointConfig.model_validate({**endpoint_config(other.url), "id": "other"}),
        ],
        sealer=Sealer(b"test hub secret"),
        clock=clock,
        settings=DispatchSettings(batch_size=2),
    )
    await hooks.start()
    for n in range(5):
        await record(sqlite_store, clock, OutgoingEvent(TICKET_CREATED, {"n": n}, n, n))
    result = await hooks.run_once()
    await hooks.close()
    await other.stop()
    # A backlog at one endpoint never takes the other's turn.
    assert result.attempted == 4
    assert (len(receiver.received), len(other.received)) == (2, 2)


async def test_a_round_works_off_a_backlog_but_does_not_chase_new_events(
    sqlite_store: Store,
) -> None:
    """Full fan-outs go on at once; after one that took every pending event the round ends,
    and events recorded meanwhile wait for the next (else, under ingest, every pass marked
    a few, a write each). No endpoints: the events are only marked."""
    clock = Clock()
    hooks = WebhookDispatcher(
        sqlite_store,
        [],
        sealer=Sealer(b"test hub secret"),
        clock=clock,
        settings=DispatchSettings(round_seconds=60, fanout_limit=4),
    )
    await record(sqlite_store, clock, *opened(1, 1), *opened(2, 2))
    passes: list[int] = []
    run_once = hooks.run_once

    async def arriving_meanwhile() -> RoundResult:
        result = await run_once()
        passes.append(result.fanned_out)
        if len(passes) in (1, 3):
            await record(sqlite_store, clock, *opened(len(passes) + 2, len(passes) + 2))
        return result

    hooks.run_once = arriving_meanwhile  # type: ignore[method-assign]
    result = await hooks.run_round()
    assert passes == [4, 4, 1] and result.fanned_out == 9
    assert await unfanned_count(sqlite_store) == 3
    assert (await hooks.run_round()).fanned_out == 3


async def test_api_secrets_are_sealed_at_rest_and_still_sign(
    store: Store, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """An API endpoint's secret is stored sealed under the hub's key (hub.core.sealed); one
    stored in plain text before sealing is sealed when the dispatcher starts, and both
    still sign. One sealed under another key is not delivered to, with an error logged."""
    clock = Clock()
    hooks = dispatcher(store, clock)
    elsewhere = await Receiver().start()
    try:
        async with store.write() as conn:
            await create_endpoint(
                conn, _api_endpoint("legacy", receiver.url), clock(), Sealer(b"test hub secret")
            )
            # As a database from before sealing holds it.
            await conn.execute(
                update(webhook_endpoints)
                .where(webhook_endpoints.c.id == "legacy")
                .values(secret=SECRET)
            )
            await create_endpoint(
                conn, _api_endpoint("moved", elsewhere.url), clock(), Sealer(b"another key")
            )
        await hooks.start()
        stored = await _stored_secrets(store)
        assert all(s.startswith(PREFIX) and SECRET.split("_")[1] not in s for s in stored.values())
        assert Sealer(b"test hub secret").open(stored["legacy"]) == SECRET
        await hooks.start()  # again: nothing left to seal, nothing sealed twice
        assert await _stored_secrets(store) == stored

        clock.advance(1)
        await record(store, clock, OutgoingEvent(TICKET_CREATED, {"ticket_id": 9}, 1, 9))
        result = await hooks.run_round()
    finally:
        await hooks.close()
        await elsewhere.stop()
    assert result.delivered == 1
    assert [p["type"] for p in receiver.verified()] == [TICKET_CREATED]
    assert elsewhere.received == []
    assert "webhook endpoint moved: its secret is sealed under another hub secret_key" in (
        caplog.text
    )


def _api_endpoint(endpoint_id: str, url: str) -> WebhookEndpointConfig:
    return WebhookEndpointConfig.model_validate({**endpoint_config(url), "id": endpoint_id})


async def _stored_secrets(store: Store) -> dict[str, str]:
    ep = webhook_endpoints.c
    async with store.read() as conn:
        rows = await conn.execute(select(ep.id, ep.secret).where(ep.source == "api"))
        return {r.id: r.secret for r in rows}
