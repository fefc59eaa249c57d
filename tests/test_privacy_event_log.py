"""The integration log's retention (hub.privacy.event_log): what every consumer is done
with goes once older than the setting; whatever a consumer still needs stays."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from hub.events.outgoing import CUSTOMER_CREATED, MESSAGE_RECEIVED
from hub.privacy.event_log import prune_integration_log
from hub.store import Store, utcnow
from hub.store.schema import (
    crm_cursors,
    outgoing_events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)

NOW = utcnow()
OLD, RECENT = NOW - timedelta(days=40), NOW - timedelta(days=2)


@pytest.fixture
async def store(storage_url: str) -> AsyncIterator[Store]:
    s = Store(storage_url)
    await s.migrate()
    yield s
    await s.close()


async def _event(conn: Any, key: str, kind: str, at: Any, fanned: bool = True) -> int:
    row = {"event_key": key, "type": kind, "customer_id": 1, "ticket_id": None, "data": {},
           "created_at": at, "fanned_out_at": at if fanned else None}  # fmt: skip
    return int((await conn.execute(insert(outgoing_events).values(row))).inserted_primary_key[0])


async def _delivery(conn: Any, event_id: int, status: str, at: Any) -> int:
    row = {"endpoint_id": "crm-hook", "event_id": event_id, "customer_id": 1, "status": status,
           "attempts": 1, "next_attempt_at": at, "created_at": at}  # fmt: skip
    did = (await conn.execute(insert(webhook_deliveries).values(row))).inserted_primary_key[0]
    await conn.execute(
        insert(webhook_attempts).values(delivery_id=did, attempted_at=at, duration_ms=5)
    )
    return int(did)


async def _fill(store: Store) -> dict[str, int]:
    async with store.write() as conn:
        endpoint = {"id": "crm-hook", "url": "https://example.com/h", "events": ["*"],
                    "source": "api", "allow_private": False, "max_failures": 10,
                    "max_attempts": 8, "timeout_ms": 5000, "status": "active",
                    "created_at": OLD, "updated_at": OLD}  # fmt: skip
        await conn.execute(insert(webhook_endpoints).values(endpoint))
        ids = {
            "old_done": await _event(conn, "e1", MESSAGE_RECEIVED, OLD),
            "old_failed": await _event(conn, "e2", MESSAGE_RECEIVED, OLD),
            "old_pending": await _event(conn, "e3", MESSAGE_RECEIVED, OLD),
            "old_unfanned": await _event(conn, "e4", MESSAGE_RECEIVED, OLD, fanned=False),
            "recent": await _event(conn, "e5", MESSAGE_RECEIVED, RECENT),
            "old_customer_taken": await _event(conn, "e6", CUSTOMER_CREATED, OLD),
            "old_customer_waiting": await _event(conn, "e7", CUSTOMER_CREATED, OLD),
        }
        await _delivery(conn, ids["old_done"], "delivered", OLD)
        await _delivery(conn, ids["old_failed"], "failed", OLD)
        await _delivery(conn, ids["old_pending"], "pending", OLD)
        await _delivery(conn, ids["recent"], "delivered", RECENT)
        # The CRM sync took in customer events up to e6, not e7.
        await conn.execute(
            insert(crm_cursors).values(
                connector_id="hubspot", event_floor=ids["old_customer_taken"], updated_at=OLD
            )
        )
    return ids


async def _left(store: Store) -> tuple[set[int], list[str], int]:
    async with store.read() as conn:
        events = {r.id for r in await conn.execute(select(outgoing_events.c.id))}
        statuses = sorted(r.status for r in await conn.execute(select(webhook_deliveries)))
        attempts = len((await conn.execute(select(webhook_attempts))).all())
    return events, statuses, attempts


async def test_what_every_consumer_is_done_with_goes_and_the_rest_stays(store: Store) -> None:
    ids = await _fill(store)
    pruned = await prune_integration_log(store, 30, ["hubspot"], NOW)
    events, statuses, attempts = await _left(store)
    assert (pruned.deliveries, pruned.events) == (2, 3)
    assert statuses == ["delivered", "pending"] and attempts == 2  # the recent, the pending
    gone = {ids[k] for k in ("old_done", "old_failed", "old_customer_taken")}
    assert events == set(ids.values()) - gone
    # Nothing more on a second run.
    again = await prune_integration_log(store, 30, ["hubspot"], NOW)
    assert (again.deliveries, again.events) == (0, 0)


async def test_a_crm_that_never_ran_keeps_every_customer_event(store: Store) -> None:
    ids = await _fill(store)
    await prune_integration_log(store, 30, ["hubspot", "salesforce"], NOW)
    events, _, _ = await _left(store)
    assert {ids["old_customer_taken"], ids["old_customer_waiting"]} <= events
    # Without a CRM configured, customer events are nobody's to wait for.
    await prune_integration_log(store, 30, [], NOW)
    events, _, _ = await _left(store)
    assert ids["old_customer_taken"] not in events and ids["old_customer_waiting"] not in events
