"""Team-channel notifications end to end: web-form posts to the real hub open tickets,
routing rules with `notify` tell loopback Slack and Teams webhooks, batched, retried
through the outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from hub.store.schema import notification_events, outbox, tickets
from tests.fakes.chat_webhooks import FakeSlackWebhook, FakeTeamsWorkflow
from tests.support import base_config, free_port, hub_running, hub_url, make_config

FORM = "/channels/contact/"
AUTH = {"Authorization": "Bearer test-token-0123456789"}
REF = re.compile(r"\bT-(\d+)\b")


def notify_config(
    storage_url: str, slack_url: str, teams_url: str, **notify_rule: Any
) -> dict[str, Any]:
    data = base_config(storage_url)
    data["replies"]["acknowledge_new_tickets"] = False
    data["connectors"] = [
        *data["connectors"],
        {"id": "billing-slack", "type": "slack", "webhook_url": slack_url},
        {"id": "billing-teams", "type": "teams", "webhook_url": teams_url},
    ]
    data["routing"]["rules"][0].update({"notify": ["billing-slack", "billing-teams"]})
    data["routing"]["rules"][0].update(notify_rule)
    data["notifications"] = {
        "sweep_seconds": 0.1,
        "batch_window_seconds": 0.5,
        "max_tickets_per_post": 25,
    }
    return data


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackWebhook]:
    fake = await FakeSlackWebhook().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def teams() -> AsyncIterator[FakeTeamsWorkflow]:
    fake = await FakeTeamsWorkflow().start()
    yield fake
    await fake.stop()


async def post_form(http: aiohttp.ClientSession, url: str, n: int, message: str) -> int:
    async with http.post(
        url, json={"email": f"customer{n}@example.com", "subject": f"Case {n}", "message": message}
    ) as resp:
        body = await resp.json()
        assert resp.status == 201, body
        return int(body["ticket"][2:])


def refs(texts: list[str]) -> Counter[int]:
    return Counter(int(m) for t in texts for m in REF.findall(t))


async def settled(hub: Any) -> tuple[list[Any], list[Any]]:
    """The notification events and notification outbox rows, once nothing is pending."""
    for _ in range(400):
        async with hub.store.read() as conn:
            events = (await conn.execute(select(notification_events))).all()
            rows = (await conn.execute(select(outbox).where(outbox.c.kind == "notification"))).all()
        if all(e.status == "batched" for e in events) and all(r.status != "pending" for r in rows):
            return events, rows
        await asyncio.sleep(0.05)
    raise AssertionError("notifications did not settle")


async def test_each_matching_ticket_is_notified_once_on_slack_and_teams(
    storage_url: str, slack: FakeSlackWebhook, teams: FakeTeamsWorkflow
) -> None:
    config = make_config(notify_config(storage_url, slack.url, teams.url))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        url = hub_url(hub, FORM)
        billing = [await post_form(http, url, n, f"Please refund invoice {n}") for n in range(3)]
        other = [await post_form(http, url, n, "Where is my parcel?") for n in range(3, 5)]
        await slack.wait_for(lambda: sum(refs(slack.texts()).values()) >= 3)
        await teams.wait_for(lambda: sum(refs(teams.texts()).values()) >= 3)
        events, rows = await settled(hub)
    assert refs(slack.texts()) == Counter({t: 1 for t in billing})
    assert refs(teams.texts()) == Counter({t: 1 for t in billing})
    assert not set(other) & set(refs(slack.texts()))
    assert slack.refused == [] and teams.refused == []
    for t in billing:
        link = f"http://127.0.0.1/inbox/tickets/{t}"
        assert sum(link in p for p in slack.texts()) == 1
        assert any(link in str(p) for p in teams.posts)
    assert "new ticket" in slack.posts[0]["text"] and "Billing" in slack.posts[0]["text"]
    assert sorted(e.ticket_id for e in events) == sorted(billing * 2)
    assert {r.status for r in rows} == {"sent"}


async def test_burst_of_100_tickets_becomes_a_few_posts(
    storage_url: str, slack: FakeSlackWebhook, teams: FakeTeamsWorkflow
) -> None:
    config = make_config(notify_config(storage_url, slack.url, teams.url))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        url = hub_url(hub, FORM)
        opened = await asyncio.gather(
            *(post_form(http, url, n, f"Refund for invoice {n}, please") for n in range(100))
        )
        await slack.wait_for(lambda: sum(refs(slack.texts()).values()) >= 100)
        await teams.wait_for(lambda: sum(refs(teams.texts()).values()) >= 100)
        await settled(hub)
    assert refs(slack.texts()) == Counter({t: 1 for t in opened})
    assert refs(teams.texts()) == Counter({t: 1 for t in opened})
    # 25 tickets a post: four full posts, and at most a partial one at a window's edge.
    assert len(slack.posts) <= 5, len(slack.posts)
    assert len(teams.posts) <= 5, len(teams.posts)


async def test_receiver_down_then_rate_limited_is_delivered_once(
    storage_url: str, teams: FakeTeamsWorkflow
) -> None:
    slack = FakeSlackWebhook(port=free_port())  # reserved, not listening yet: down
    data = notify_config(storage_url, slack.url, teams.url)
    # Enough attempts that a slow machine cannot dead-letter it while the receiver is down.
    data["outbox"]["max_attempts"] = 20
    config = make_config(data)
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        ticket = await post_form(http, hub_url(hub, FORM), 1, "My invoice is wrong")
        for _ in range(400):
            async with hub.store.read() as conn:
                row = (
                    await conn.execute(
                        select(outbox).where(
                            outbox.c.kind == "notification",
                            outbox.c.connector_id == "billing-slack",
                        )
                    )
                ).first()
            if row is not None and row.attempts >= 1:
                break
            await asyncio.sleep(0.05)
        assert row is not None and row.status == "pending" and row.attempts >= 1
        assert "ClientConnectorError" in row.last_error and slack.secret not in row.last_error
        slack.fail_next(429, "rate_limited", retry_after=1)
        await slack.start(slack.port)
        try:
            await slack.wait_for(lambda: len(slack.posts) >= 1)
            _, rows = await settled(hub)
        finally:
            await slack.stop()
    assert slack.refused == [(429, "rate_limited")]
    assert len(slack.posts) == 1 and refs(slack.texts()) == Counter({ticket: 1})
    sent = [r for r in rows if r.connector_id == "billing-slack"]
    assert len(sent) == 1 and sent[0].status == "sent" and sent[0].attempts >= 3


async def test_agent_escalation_notifies_once_per_reason(
    storage_url: str, slack: FakeSlackWebhook, teams: FakeTeamsWorkflow
) -> None:
    config = make_config(notify_config(storage_url, slack.url, teams.url, notify_on=["escalated"]))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        routed = await post_form(http, hub_url(hub, FORM), 1, "Refund my invoice")
        fallback = await post_form(http, hub_url(hub, FORM), 2, "Hello there")

        async def patch(ticket: int, body: dict[str, Any]) -> None:
            async with http.patch(hub_url(hub, f"/api/v1/tickets/{ticket}"), json=body) as resp:
                assert resp.status == 200, await resp.text()

        await patch(routed, {"priority": "urgent"})
        await slack.wait_for(lambda: len(slack.posts) >= 1)
        await patch(routed, {"tags": ["billing", "vip"]})
        await slack.wait_for(lambda: len(slack.posts) >= 2)
        # Lowered and raised again: the channel already heard "priority urgent".
        await patch(routed, {"priority": "normal"})
        await patch(routed, {"priority": "urgent"})
        # The fallback rule notifies nobody.
        await patch(fallback, {"priority": "urgent", "tags": ["vip"]})
        events, _ = await settled(hub)
        async with hub.store.read() as conn:
            rule = (
                await conn.execute(select(tickets.c.route_rule).where(tickets.c.id == routed))
            ).scalar()
    assert rule == "billing"
    assert sorted((e.connector_id, e.reason) for e in events) == [
        ("billing-slack", "priority urgent"),
        ("billing-slack", "tag vip"),
        ("billing-teams", "priority urgent"),
        ("billing-teams", "tag vip"),
    ]
    texts = slack.texts()
    assert len(texts) == 2 and "escalated: priority urgent" in texts[0]
    assert "escalated: tag vip" in texts[1]
    assert "escalated" in slack.posts[0]["blocks"][0]["text"]["text"]
    assert refs(texts) == Counter({routed: 2})
