"""Two `hub serve` processes on one PostgreSQL database, both running their periodic SLA
check on real (short) deadlines: each warning and each breach is taken, told to Slack and
recorded as an integration event once."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from hub.store import Store
from hub.store.schema import notification_events, outgoing_events, sla_targets
from tests.fakes.chat_webhooks import FakeSlackWebhook
from tests.hub_processes import HubProcess, hub_process
from tests.support import base_config

pytestmark = pytest.mark.slow
TICKETS = 20
REF = re.compile(r"\bT-(\d+)\b")
# Warned 4 s after a ticket opens, breached 4 s later: far enough apart that a ticket's
# warning and breach are never batched into one post (where they would be one line).
SLA = {
    "warn_before": "4s",
    "check_seconds": 0.3,
    "teams": {"support": {"notify": ["team-slack"]}},
    "policies": [
        {
            "name": "fast",
            "targets": {
                p: {"first_response": "8s", "resolution": "1h"}
                for p in ("low", "normal", "high", "urgent")
            },
        }
    ],
}


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackWebhook]:
    fake = await FakeSlackWebhook().start()
    yield fake
    await fake.stop()


def _hub(tmp_path: Path, name: str, pg_url: str, slack_url: str) -> HubProcess:
    data = base_config(
        pg_url,
        bot={"faq": None},
        notifications={"sweep_seconds": 0.1, "batch_window_seconds": 0.2},
        sla=SLA,
    )
    data["replies"]["acknowledge_new_tickets"] = False
    data["connectors"].append({"id": "team-slack", "type": "slack", "webhook_url": slack_url})
    return hub_process(tmp_path, name, data)


async def _post(http: aiohttp.ClientSession, hub: HubProcess, email: str) -> int:
    body = {"email": email, "subject": "Help", "message": "Where is it?"}
    async with http.post(hub.url("/channels/contact/"), json=body) as resp:
        answer = await resp.json()
        assert resp.status == 201, answer
        return int(answer["ticket"][2:])


def _told(slack: FakeSlackWebhook) -> int:
    return sum(len(REF.findall(t)) for t in slack.texts())


@pytest.mark.heavy
async def test_two_hubs_notify_each_warning_and_breach_once(
    pg_url: str, tmp_path: Path, slack: FakeSlackWebhook
) -> None:
    hubs = [_hub(tmp_path, name, pg_url, slack.url) for name in ("one", "two")]
    store = Store(pg_url)
    try:
        await hubs[0].start()  # the first migrates the database
        await hubs[1].start()
        async with aiohttp.ClientSession() as http:
            opened = await asyncio.gather(
                *(_post(http, hubs[n % 2], f"c{n}@example.com") for n in range(TICKETS))
            )
        await slack.wait_for(lambda: _told(slack) >= TICKETS, timeout=30)  # the warnings
        await slack.wait_for(lambda: _told(slack) >= 2 * TICKETS, timeout=30)  # the breaches
        await asyncio.sleep(1.0)  # anything told twice would arrive meanwhile
        async with store.read() as conn:
            events = Counter(
                (r.ticket_id, r.kind) for r in await conn.execute(select(notification_events))
            )
            outgoing = Counter(r.type for r in await conn.execute(select(outgoing_events.c.type)))
            breached = (
                await conn.execute(select(func.count()).where(sla_targets.c.status == "breached"))
            ).scalar_one()
    finally:
        for hub in hubs:
            await hub.stop()
        await store.close()
    assert events == Counter({(t, k): 1 for t in opened for k in ("sla_warning", "sla_breached")})
    assert outgoing["sla.warning"] == TICKETS and outgoing["sla.breached"] == TICKETS
    assert breached == TICKETS
    told = Counter(int(m) for t in slack.texts() for m in REF.findall(t))
    assert told == Counter({t: 2 for t in opened})
