"""SLA clocks end to end on the running hub, on SQLite and PostgreSQL, with the hub's
clock moved by the test: a web-form message opens a ticket, its warning and its breach
reach the Slack fake at their times, agents' replies and statuses move the clocks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select

from hub.messages import Address, InboundMessage
from hub.store import utcnow
from hub.store.schema import outbox, outgoing_events, sla_events
from tests.fakes.chat_webhooks import FakeSlackWebhook
from tests.sla_support import (
    AUTH,
    api,
    due_of,
    post_form,
    sim_clock,
    sla_config,
    targets,
    with_sla,
)
from tests.support import SmtpSink, base_config, hub_running, make_config


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackWebhook]:
    fake = await FakeSlackWebhook().start()
    yield fake
    await fake.stop()


async def test_warning_then_breach_reach_slack_once_at_their_times(
    storage_url: str, slack: FakeSlackWebhook
) -> None:
    config = make_config(sla_config(storage_url, slack.url))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        clock = sim_clock(hub)
        t0 = clock.now
        ticket = await post_form(http, hub, "ann@example.com", "My parcel never came")
        clocks = await targets(hub, ticket)
        assert clocks["first_response", 1].due_at == t0 + timedelta(minutes=30)
        assert clocks["resolution", 1].due_at == t0 + timedelta(hours=4)
        assert await due_of(hub, ticket) == t0 + timedelta(minutes=30)

        clock.at(t0, minutes=19, seconds=59)
        assert (await hub.sla_check.check()).warned == 0
        clock.at(t0, minutes=20)
        assert (await hub.sla_check.check()).warned == 1
        await slack.wait_for(lambda: len(slack.posts) >= 1)
        assert "SLA warning: first response due" in slack.texts()[0]
        assert f"http://127.0.0.1/inbox/tickets/{ticket}" in slack.texts()[0]

        clock.at(t0, minutes=29, seconds=59)
        assert (await hub.sla_check.check()).breached == 0
        clock.at(t0, minutes=30)
        result = await hub.sla_check.check()
        assert (result.breached, result.breach_notices) == (1, 1)
        await slack.wait_for(lambda: len(slack.posts) >= 2)
        assert "SLA breached: first response due" in slack.texts()[1]
        clock.at(t0, minutes=45)
        assert (await hub.sla_check.check()) == type(result)()  # nothing twice
        await asyncio.sleep(0.5)
        async with hub.store.read() as conn:
            kinds = [r.type for r in await conn.execute(select(outgoing_events.c.type))]
        after = await targets(hub, ticket)
    assert len(slack.posts) == 2
    assert kinds.count("sla.warning") == 1 and kinds.count("sla.breached") == 1
    assert after["first_response", 1].status == "breached"
    assert after["first_response", 1].breached_at == t0 + timedelta(minutes=30)


async def test_agent_reply_achieves_first_then_next_response(
    storage_url: str, slack: FakeSlackWebhook
) -> None:
    config = make_config(sla_config(storage_url, slack.url))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        clock = sim_clock(hub)
        t0 = clock.now
        ticket = await post_form(http, hub, "bo@example.com", "Where is my order?")
        clock.at(t0, minutes=5)
        await api(http, hub, "POST", f"/tickets/{ticket}/reply", {"text": "On it"})
        clock.at(t0, minutes=10)
        assert await post_form(http, hub, "bo@example.com", "Any news?") == ticket
        cycle = (await targets(hub, ticket))["next_response", 1]
        assert cycle.status == "pending" and cycle.started_at == t0 + timedelta(minutes=10)
        assert cycle.due_at == t0 + timedelta(minutes=30)
        clock.at(t0, minutes=12)
        assert await post_form(http, hub, "bo@example.com", "Hello??") == ticket
        clock.at(t0, minutes=15)
        await api(http, hub, "POST", f"/tickets/{ticket}/reply", {"text": "Shipped today"})
        clocks = await targets(hub, ticket)
        due = await due_of(hub, ticket)
    first, nxt = clocks["first_response", 1], clocks["next_response", 1]
    assert (first.status, first.achieved_at) == ("achieved", t0 + timedelta(minutes=5))
    # The second message waited in the same cycle: from the oldest unanswered one.
    assert ("next_response", 2) not in clocks
    assert (nxt.status, nxt.achieved_at) == ("achieved", t0 + timedelta(minutes=15))
    assert due == clocks["resolution", 1].due_at == t0 + timedelta(hours=4)


async def test_pending_pauses_resolution_and_reopening_resumes_it(
    storage_url: str, slack: FakeSlackWebhook
) -> None:
    config = make_config(sla_config(storage_url, slack.url))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        clock = sim_clock(hub)
        t0 = clock.now
        ticket = await post_form(http, hub, "cy@example.com", "Broken zipper")
        clock.at(t0, minutes=10)
        await api(http, hub, "POST", f"/tickets/{ticket}/reply", {"text": "Photo please?"})
        clock.at(t0, hours=1)
        await api(http, hub, "PATCH", f"/tickets/{ticket}", {"status": "pending"})
        paused = (await targets(hub, ticket))["resolution", 1]
        assert paused.due_at is None and paused.consumed_seconds == 3600
        assert await due_of(hub, ticket) is None
        clock.at(t0, hours=5)  # past the 4 h target in wall time, but paused
        assert (await hub.sla_check.check()).breached == 0
        await api(http, hub, "PATCH", f"/tickets/{ticket}", {"status": "open"})
        resumed = (await targets(hub, ticket))["resolution", 1]
        clock.at(t0, hours=6)
        await api(http, hub, "PATCH", f"/tickets/{ticket}", {"status": "solved"})
        done = (await targets(hub, ticket))["resolution", 1]
        async with hub.store.read() as conn:
            timeline = [
                r.what
                for r in await conn.execute(
                    select(sla_events.c.what).where(sla_events.c.ticket_id == ticket)
                )
            ]
    assert resumed.due_at == t0 + timedelta(hours=8)  # 5 h + the 3 h left
    assert (done.status, done.achieved_at) == ("achieved", t0 + timedelta(hours=6))
    assert {"policy", "achieved", "paused", "resumed"} <= set(timeline)


async def test_bot_hand_over_starts_the_human_clock(
    storage_url: str, slack: FakeSlackWebhook
) -> None:
    """chatwoot PR #13417: the human's first response counts from the hand-over, not from
    the chat's first message to the bot; the bot's words answer nothing."""
    config = make_config(sla_config(storage_url, slack.url))
    async with hub_running(config) as hub:
        clock = sim_clock(hub)
        t0 = clock.now
        visitor = Address("webchat", "visitor-1")

        def said(n: int, text: str, command: str | None = None) -> InboundMessage:
            meta = {"command": command} if command else {}
            return InboundMessage(
                "webchat", "chat", f"v1-{n}", visitor, text, reply_to=visitor, meta=meta
            )

        greeted = await hub.pipeline.submit(said(1, "/start", "start"))
        assert greeted.ticket_id is None
        clock.at(t0, minutes=25)
        handed = await hub.pipeline.submit(said(2, "/human", "human"))
        assert handed.ticket_id is not None
        clocks = await targets(hub, handed.ticket_id)
        clock.at(t0, minutes=26)
        await hub.pipeline.submit(said(3, "still there?"))
        after = await targets(hub, handed.ticket_id)
    first = clocks["first_response", 1]
    assert first.started_at == t0 + timedelta(minutes=25)
    assert first.due_at == t0 + timedelta(minutes=55)
    assert after["first_response", 1].status == "pending"
    assert ("next_response", 1) not in after


async def test_a_scheduled_reply_answers_when_it_goes_not_when_it_is_queued(
    storage_url: str, slack: FakeSlackWebhook, smtp: SmtpSink
) -> None:
    config = make_config(with_sla(base_config(storage_url, smtp.port), slack.url))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        clock = sim_clock(hub)
        t0 = clock.now
        ticket = await post_form(http, hub, "cy@example.com", "Where is my order?")
        clock.at(t0, minutes=5)
        # Held by the outbox for a few real seconds (the hub's clock is hours behind).
        later = (utcnow() + timedelta(seconds=2)).isoformat()
        sent = await api(
            http, hub, "POST", f"/tickets/{ticket}/reply", {"text": "Tomorrow", "send_at": later}
        )
        first = (await targets(hub, ticket))["first_response", 1]
        assert (first.status, first.achieved_at) == ("pending", None)  # it answers nobody yet
        clock.at(t0, minutes=25)
        await smtp.wait_for(1)

        async def went() -> bool:
            async with hub.store.read() as conn:
                status = (
                    await conn.execute(
                        select(outbox.c.status).where(outbox.c.id == sent["outbox_id"])
                    )
                ).scalar_one()
            return status == "sent"

        for _ in range(200):
            if await went():
                break
            await asyncio.sleep(0.05)
        first = (await targets(hub, ticket))["first_response", 1]
    assert (first.status, first.achieved_at) == ("achieved", t0 + timedelta(minutes=25))
