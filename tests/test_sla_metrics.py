"""SLA outcomes reach the reports: a target met on time counts as achieved, a missed one as
breached (once, whether the check or a late answer saw it), and a reopened ticket takes its
resolution's "achieved" back; the report's SLA achieved % follows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select

from hub.reports.report import build_report
from hub.reports.request import ReportRequest
from hub.store.schema import metric_events
from tests.fakes.chat_webhooks import FakeSlackWebhook
from tests.sla_support import AUTH, api, post_form, sim_clock, sla_config
from tests.support import hub_running, make_config


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackWebhook]:
    fake = await FakeSlackWebhook().start()
    yield fake
    await fake.stop()


async def _outcomes(hub: object) -> list[tuple[int, str, int]]:
    async with hub.store.read() as conn:  # type: ignore[attr-defined]
        rows = await conn.execute(
            select(metric_events.c.ticket_id, metric_events.c.kind, metric_events.c.weight)
            .where(metric_events.c.kind.in_(("sla_achieved", "sla_breached")))
            .order_by(metric_events.c.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_outcomes_are_counted_once_and_taken_back_on_reopen(
    storage_url: str, slack: FakeSlackWebhook
) -> None:
    config = make_config(sla_config(storage_url, slack.url))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        clock = sim_clock(hub)
        t0 = clock.now
        quick = await post_form(http, hub, "ann@example.com", "Where is my parcel?")
        slow = await post_form(http, hub, "bo@example.com", "Where is mine?")
        clock.at(t0, minutes=5)
        await api(http, hub, "POST", f"/tickets/{quick}/reply", {"text": "On its way"})
        # The slow one's first response (30 minutes) is missed: the check counts it then.
        clock.at(t0, minutes=31)
        await hub.sla_check.check()
        clock.at(t0, minutes=40)
        await api(http, hub, "POST", f"/tickets/{slow}/reply", {"text": "Sorry, on its way"})
        assert await _outcomes(hub) == [
            (quick, "sla_achieved", 1),
            (slow, "sla_breached", 1),
        ]
        # Solving in time achieves resolution; reopening takes that back.
        clock.at(t0, minutes=50)
        await api(http, hub, "PATCH", f"/tickets/{quick}", {"status": "solved"})
        clock.at(t0, minutes=55)
        await api(http, hub, "PATCH", f"/tickets/{quick}", {"status": "open"})
        tail = (await _outcomes(hub))[2:]
        assert tail == [(quick, "sla_achieved", 1), (quick, "sla_achieved", -1)]
        zone = ZoneInfo("UTC")
        span = ReportRequest(t0 - timedelta(days=1), t0 + timedelta(days=1), zone)
        report = await build_report(hub.store, span, hub.config.report_zone)
    # One target met, one missed.
    assert report.total.sla_achieved == 1 and report.total.sla_breached == 1
    assert report.total.sla_achieved_pct == 50.0
