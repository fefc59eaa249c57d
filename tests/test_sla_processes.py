"""Two hubs on one PostgreSQL database, as two processes would be, both checking the
same deadlines at the same moments: each warning and each breach is taken, told to Slack
and recorded as an integration event once."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import func, select

from hub.store.schema import notification_events, outgoing_events, sla_targets
from tests.fakes.chat_webhooks import FakeSlackWebhook
from tests.sla_support import post_form, sim_clock, sla_config
from tests.support import hub_running, make_config

TICKETS = 40
REF = re.compile(r"\bT-(\d+)\b")


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackWebhook]:
    fake = await FakeSlackWebhook().start()
    yield fake
    await fake.stop()


async def test_two_hubs_notify_each_warning_and_breach_once(
    pg_url: str, slack: FakeSlackWebhook
) -> None:
    config = make_config(sla_config(pg_url, slack.url))
    async with (
        hub_running(config) as one,
        hub_running(config) as two,
        aiohttp.ClientSession() as http,
    ):
        clock_one, clock_two = sim_clock(one), sim_clock(two)
        clock_two.now = t0 = clock_one.now
        opened = await asyncio.gather(
            *(
                post_form(http, one if n % 2 else two, f"c{n}@example.com", "Where is it?")
                for n in range(TICKETS)
            )
        )
        totals: Counter[str] = Counter()
        # Ten simulated minutes pass in an instant here: the warnings are told before the
        # breaches come due, as they would be (a warning and a breach of one ticket batched
        # together are one line, the breach).
        for told, rounds in ((TICKETS, (20, 20.5)), (2 * TICKETS, (30, 31))):
            for minutes in rounds:
                clock_one.at(t0, minutes=minutes)
                clock_two.at(t0, minutes=minutes)
                results = await asyncio.gather(
                    *(hub.sla_check.check() for hub in (one, two, one, two))
                )
                for r in results:
                    totals.update(warned=r.warned, breached=r.breached, notices=r.breach_notices)
            await slack.wait_for(
                lambda n=told: sum(len(REF.findall(t)) for t in slack.texts()) >= n
            )
        await asyncio.sleep(0.5)  # anything told twice would arrive meanwhile
        async with one.store.read() as conn:
            events = Counter(
                (r.ticket_id, r.kind) for r in await conn.execute(select(notification_events))
            )
            outgoing = Counter(r.type for r in await conn.execute(select(outgoing_events.c.type)))
            breached = (
                await conn.execute(select(func.count()).where(sla_targets.c.status == "breached"))
            ).scalar_one()
    assert totals == Counter(warned=TICKETS, breached=TICKETS, notices=TICKETS)
    assert events == Counter({(t, k): 1 for t in opened for k in ("sla_warning", "sla_breached")})
    assert outgoing["sla.warning"] == TICKETS and outgoing["sla.breached"] == TICKETS
    assert breached == TICKETS
    told = Counter(int(m) for t in slack.texts() for m in REF.findall(t))
    assert told == Counter({t: 2 for t in opened})
