"""What agents see of SLAs, on SQLite and PostgreSQL: the API's ticket fields, the
"breached" and "due within an hour" filters, "due first" order, a ticket's clocks and
timeline, the queue page's badges and the assignee's notice."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from hub.app import Hub
from tests.fakes.chat_webhooks import FakeSlackWebhook
from tests.inbox_support import inbox_config, login
from tests.sla_support import AUTH, api, post_form, sim_clock, with_sla
from tests.support import hub_running, hub_url, make_config


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackWebhook]:
    fake = await FakeSlackWebhook().start()
    yield fake
    await fake.stop()


async def four_tickets(hub: Hub, http: aiohttp.ClientSession) -> dict[str, int]:
    """Opened 20 minutes ago (real time): `late` (high, first response due 15 min after:
    breached), `soon` (normal, due in 10 min), `later` (answered; resolution in hours) and
    `none` (lowered to low: no policy has targets for it)."""
    clock = sim_clock(hub, hours_ago=20 / 60)
    t0 = clock.now
    made = {
        "soon": await post_form(http, hub, "s@example.com", "Where is my parcel?"),
        "late": await post_form(http, hub, "l@example.com", "Refund my invoice"),
        "later": await post_form(http, hub, "r@example.com", "Change my address"),
        "none": await post_form(http, hub, "n@example.com", "Just saying hi"),
    }
    clock.at(t0, minutes=1)
    await api(http, hub, "POST", f"/tickets/{made['later']}/reply", {"text": "Done"})
    await api(http, hub, "PATCH", f"/tickets/{made['none']}", {"priority": "low"})
    await api(http, hub, "PATCH", f"/tickets/{made['late']}", {"assignee": "bill"})
    clock.at(t0, minutes=20)
    assert (await hub.sla_check.check()).breached == 1
    return made


def refs(listing: dict[str, Any]) -> list[int]:
    return [t["id"] for t in listing["tickets"]]


async def test_api_shows_deadlines_filters_and_sorts_due_first(
    storage_url: str, slack: FakeSlackWebhook
) -> None:
    config = make_config(with_sla(inbox_config(storage_url), slack.url))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        t = await four_tickets(hub, http)
        due_first = await api(http, hub, "GET", "/tickets?sort=due", None)
        breached = await api(http, hub, "GET", "/tickets?sla=breached", None)
        soon = await api(http, hub, "GET", "/tickets?sla=due_soon", None)
        late = await api(http, hub, "GET", f"/tickets/{t['late']}", None)
        async with http.get(hub_url(hub, "/api/v1/tickets?sla=overdue")) as resp:
            bad = resp.status
    assert refs(due_first) == [t["late"], t["soon"], t["later"], t["none"]]
    states = {x["id"]: x["sla_state"] for x in due_first["tickets"]}
    assert states == {t["late"]: "breached", t["soon"]: "due_soon", t["later"]: "on_track",
                      t["none"]: None}  # fmt: skip
    assert refs(breached) == [t["late"]] and refs(soon) == [t["soon"]]
    assert bad == 400
    clocks = {c["kind"]: c for c in late["sla"]["clocks"]}
    assert clocks["first_response"]["status"] == "breached"
    assert clocks["first_response"]["policy"] == "standard"
    assert clocks["resolution"]["status"] == "pending" and not clocks["resolution"]["paused"]
    assert [e["what"] for e in late["sla"]["timeline"]] == ["policy", "breached"]
    assert late["sla_due_at"] == clocks["first_response"]["due_at"]


async def test_queue_page_shows_badges_and_the_assignees_notice(
    storage_url: str, slack: FakeSlackWebhook
) -> None:
    config = make_config(with_sla(inbox_config(storage_url), slack.url))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        t = await four_tickets(hub, http)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            await login(browser, hub, "bill")
            async with browser.get(hub_url(hub, "/inbox/?sort=due&sla=breached")) as resp:
                queue = await resp.text()
            async with browser.get(hub_url(hub, f"/inbox/tickets/{t['late']}")) as resp:
                page = await resp.text()
    assert 'id="my-sla"' in queue and "1 past an SLA deadline" in queue
    assert re.findall(r'<tr data-id="(\d+)"', queue) == [str(t["late"])]
    assert 'class="sla sla-breached"' in queue
    assert 'id="sla-clocks"' in page and "first response" in page
    assert "SLA timeline" in page and "policy standard applies" in page


def test_due_soon_and_breached_states_are_pure() -> None:
    from datetime import UTC, datetime

    from hub.tickets.queries import sla_state

    now = datetime(2027, 1, 4, 12, tzinfo=UTC)
    cases = [
        (None, None),
        (now, "breached"),
        (now - timedelta(days=1), "breached"),
        (now + timedelta(minutes=1), "due_soon"),
        (now + timedelta(hours=1), "due_soon"),
        (now + timedelta(hours=1, seconds=1), "on_track"),
    ]
    for due, state in cases:
        assert sla_state(due, now) == state, due
