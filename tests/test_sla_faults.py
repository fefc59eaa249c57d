"""The faults users report of other helpdesks' SLAs, each a test on the running hub
(SQLite and PostgreSQL, the hub's clock moved by the test): zammad#1620, zammad#5177,
chatwoot#10178, zammad#390, zammad#4432; and a re-evaluation from the original start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from hub.store.schema import notification_events, sla_events
from tests.fakes.chat_webhooks import FakeSlackWebhook
from tests.sla_support import AUTH, SimClock, api, due_of, post_form, sim_clock, sla_config
from tests.sla_support import targets as clocks_of
from tests.support import hub_running, make_config

# A Friday afternoon in the past; the office is open Mon-Fri 09:00-17:00 UTC, and the
# Monday after is a holiday.
FRIDAY = datetime(2026, 11, 27, 16, 45, tzinfo=UTC)
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TUESDAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OFFICE = {
    "office": {
        "timezone": "UTC",
        "hours": {"mon-fri": ["09:00-17:00"]},
        "holidays": {"dates": ["2026-11-30"]},
    }
}


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackWebhook]:
    fake = await FakeSlackWebhook().start()
    yield fake
    await fake.stop()


async def check(hub: Any, clock: SimClock, at: datetime) -> tuple[int, int, int]:
    clock.now = at
    r = await hub.sla_check.check()
    return r.breached, r.warned, r.breach_notices


async def test_internal_note_does_not_stop_the_clock(
    storage_url: str, slack: FakeSlackWebhook
) -> None:
    """zammad#1620: a note is not an answer to the customer."""
    config = make_config(sla_config(storage_url, slack.url))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        clock = sim_clock(hub)
        t0 = clock.now
        ticket = await post_form(http, hub, "di@example.com", "Wrong size")
        clock.at(t0, minutes=5)
        await api(http, hub, "POST", f"/tickets/{ticket}/notes", {"text": "asked the warehouse"})
        first = (await clocks_of(hub, ticket))["first_response", 1]
        assert (first.status, first.achieved_at) == ("pending", None)
        assert (await check(hub, clock, t0 + timedelta(minutes=30)))[0] == 1


async def test_update_target_never_overrides_first_response_before_the_first_reply(
    storage_url: str, slack: FakeSlackWebhook
) -> None:
    """zammad#5177: the customer writing again before anyone answered starts no
    next-response clock; the first response keeps its own deadline."""
    config = make_config(sla_config(storage_url, slack.url))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        clock = sim_clock(hub)
        t0 = clock.now
        ticket = await post_form(http, hub, "ed@example.com", "Card declined")
        for minutes in (2, 6, 25):
            clock.at(t0, minutes=minutes)
            assert await post_form(http, hub, "ed@example.com", "hello?") == ticket
        clocks = await clocks_of(hub, ticket)
        assert {k for k, _ in clocks} == {"first_response", "resolution"}
        assert clocks["first_response", 1].due_at == t0 + timedelta(minutes=30)
        assert await due_of(hub, ticket) == t0 + timedelta(minutes=30)
        assert (await check(hub, clock, t0 + timedelta(minutes=29)))[0] == 0
        assert (await check(hub, clock, t0 + timedelta(minutes=30)))[0] == 1
        clock.at(t0, minutes=40)
        await api(http, hub, "POST", f"/tickets/{ticket}/reply", {"text": "Sorry, fixed"})
        first = (await clocks_of(hub, ticket))["first_response", 1]
    # Answered late: met, and breached for good.
    assert (first.status, first.achieved_at) == ("breached", t0 + timedelta(minutes=40))


async def test_no_next_response_clock_after_closing(
    storage_url: str, slack: FakeSlackWebhook
) -> None:
    """chatwoot#10178: a ticket closed while a customer message waited has no clock left
    running, and nothing breaches later."""
    config = make_config(sla_config(storage_url, slack.url))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        clock = sim_clock(hub)
        t0 = clock.now
        ticket = await post_form(http, hub, "fa@example.com", "Return label?")
        clock.at(t0, minutes=3)
        await api(http, hub, "POST", f"/tickets/{ticket}/reply", {"text": "Attached"})
        clock.at(t0, minutes=4)
        assert await post_form(http, hub, "fa@example.com", "Thanks!") == ticket
        assert (await clocks_of(hub, ticket))["next_response", 1].status == "pending"
        clock.at(t0, minutes=6)
        await api(http, hub, "PATCH", f"/tickets/{ticket}", {"status": "closed"})
        clocks = await clocks_of(hub, ticket)
        assert clocks["next_response", 1].status == "cancelled"
        assert clocks["resolution", 1].status == "achieved"
        assert await due_of(hub, ticket) is None
        assert await check(hub, clock, t0 + timedelta(days=3)) == (0, 0, 0)


async def test_holidays_do_not_stretch_a_calendar_time_target(
    storage_url: str, slack: FakeSlackWebhook
) -> None:
    """zammad#390: a target in calendar time runs through nights, weekends and holidays;
    only a target on the business calendar skips them."""
    data = sla_config(storage_url, slack.url)
    data["calendars"] = OFFICE
    data["sla"]["policies"] = [
        {
            "name": "office-hours",
            "match": {"priority": ["high"]},
            "business": "office",
            "targets": {"high": {"first_response": "2h"}},
        },
        {"name": "around-the-clock", "targets": {"normal": {"first_response": "2d"}}},
    ]
    data["sla"]["teams"]["support"]["calendar"] = "office"
    async with hub_running(make_config(data)) as hub, aiohttp.ClientSession() as http:
        clock = sim_clock(hub)
        clock.now = FRIDAY
        plain = await post_form(http, hub, "ga@example.com", "Parcel late")
        billing = await post_form(http, hub, "hu@example.com", "Refund my invoice")
        plain_due = (await clocks_of(hub, plain))["first_response", 1].due_at
        billing_due = (await clocks_of(hub, billing))["first_response", 1].due_at
    assert plain_due == FRIDAY + timedelta(days=2)
    # 15 minutes on Friday, Monday a holiday, the other 1 h 45 on Tuesday.
    assert billing_due == TUESDAY + timedelta(hours=1, minutes=45)


async def test_business_hours_notices_wait_for_the_office_to_open(
    storage_url: str, slack: FakeSlackWebhook
) -> None:
    """zammad#4432: with notify_business_hours_only, a deadline passing on Friday evening
    is a breach at once, but told on the next working morning: not at midnight, not on the
    weekend (and Monday is a holiday)."""
    data = sla_config(storage_url, slack.url)
    data["calendars"] = OFFICE
    data["sla"]["teams"]["support"].update(calendar="office", notify_business_hours_only=True)
    async with hub_running(make_config(data)) as hub, aiohttp.ClientSession() as http:
        clock = sim_clock(hub)
        clock.now = FRIDAY
        ticket = await post_form(http, hub, "io@example.com", "Never arrived")
        assert await check(hub, clock, FRIDAY + timedelta(minutes=20)) == (0, 0, 0)
        assert await check(hub, clock, FRIDAY + timedelta(minutes=30)) == (1, 0, 0)
        for at in (
            datetime(2026, 11, 28, 0, 0, tzinfo=UTC),  # Saturday midnight
            datetime(2026, 11, 29, 12, 0, tzinfo=UTC),  # Sunday noon
            datetime(2026, 11, 30, 10, 0, tzinfo=UTC),  # Monday, a holiday
            TUESDAY - timedelta(seconds=1),
        ):
            _, warned, notices = await check(hub, clock, at)
            assert (warned, notices) == (0, 0), at
        assert (await check(hub, clock, TUESDAY))[2] == 2  # first response and resolution
        await slack.wait_for(lambda: len(slack.posts) >= 1)
        async with hub.store.read() as conn:
            told = (await conn.execute(select(notification_events))).all()
    assert {(e.ticket_id, e.kind, e.created_at) for e in told} == {
        (ticket, "sla_breached", TUESDAY)
    }
    assert len(told) == 2 and "SLA breach" in slack.texts()[0]


async def test_priority_change_recomputes_from_the_original_start(
    storage_url: str, slack: FakeSlackWebhook
) -> None:
    config = make_config(sla_config(storage_url, slack.url))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        clock = sim_clock(hub)
        t0 = clock.now
        ticket = await post_form(http, hub, "jo@example.com", "Order stuck")
        clock.at(t0, minutes=5)
        await api(http, hub, "PATCH", f"/tickets/{ticket}", {"priority": "urgent"})
        urgent = await clocks_of(hub, ticket)
        assert urgent["first_response", 1].policy == "urgent-care"
        assert urgent["first_response", 1].due_at == t0 + timedelta(minutes=10)
        assert urgent["resolution", 1].due_at == t0 + timedelta(hours=1)
        assert (await check(hub, clock, t0 + timedelta(minutes=10)))[0] == 1
        clock.at(t0, minutes=11)
        await api(http, hub, "PATCH", f"/tickets/{ticket}", {"priority": "normal"})
        back = await clocks_of(hub, ticket)
        async with hub.store.read() as conn:
            history = [
                r.detail
                for r in await conn.execute(
                    select(sla_events.c.detail).where(
                        sla_events.c.ticket_id == ticket, sla_events.c.what == "reevaluated"
                    )
                )
            ]
    # Once breached, always breached; the rest follows the standard policy again.
    assert back["first_response", 1].status == "breached"
    assert back["resolution", 1].policy == "standard"
    assert back["resolution", 1].due_at == t0 + timedelta(hours=4)
    assert len(history) == 2 and "priority normal -> urgent" in history[0]
    assert "policy urgent-care" in history[0] and "policy standard" in history[1]
