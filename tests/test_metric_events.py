"""Metric events are written with the change that causes them, and the daily rollup adds
them up in the reporting zone's days."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import func, select

from hub.agents.auth import create_api_token
from hub.events.metrics import ROLLUP_SUMS, MetricEvent, rollup_rows
from hub.reports.figures import Sums, figures
from hub.store.schema import metric_counts, metric_daily, metric_events, tickets
from tests.inbox_support import inbox_config, post_form
from tests.support import SmtpSink, hub_running, hub_url, make_config

ADMIN = {"Authorization": "Bearer test-token-0123456789"}


def test_rollup_rows_count_each_event_once_per_dimension_and_once_per_tag() -> None:
    at = datetime(2026, 3, 7, 19, 0, tzinfo=UTC)  # 01:00 on the 8th in Dhaka (UTC+6)
    events = [
        MetricEvent("reply", at, team="support", channel="email", agent="sam", seconds=60.0),
        MetricEvent("reply", at, team="support", channel="email", tags=("a", "b"), seconds=30.0),
    ]
    written = rollup_rows(events, ZoneInfo("Asia/Dhaka"))
    assert {(r["span"], r["day"]) for r in written} == {
        ("day", date(2026, 3, 8)),
        ("month", date(2026, 3, 1)),
    }
    rows = {
        (r["team_id"], r["dim"], r["member"]): (r["n"], r["seconds_sum"])
        for r in written
        if r["span"] == "day"
    }
    assert {
        (r["team_id"], r["dim"], r["member"]): (r["n"], r["seconds_sum"])
        for r in written
        if r["span"] == "month"
    } == rows
    assert rows[("", "all", "")] == (2, 90.0)
    assert rows[("support", "all", "")] == (2, 90.0)
    assert rows[("", "channel", "email")] == (2, 90.0)
    assert rows[("", "agent", "sam")] == (1, 60.0)
    assert rows[("", "tag", "a")] == rows[("", "tag", "b")] == (1, 30.0)
    assert ("", "priority", "") not in rows


async def test_ticket_life_writes_its_events_and_rollup(storage_url: str, smtp: SmtpSink) -> None:
    config = make_config(inbox_config(storage_url, smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        ref = await post_form(http, hub, name="Ann", email="ann@example.com", message="Hi there")
        tid = int(ref[2:])
        async with hub.store.write() as conn:
            sam = {"Authorization": f"Bearer {await create_api_token(conn, 'sam', 'test')}"}

        async def call(method: str, path: str, headers: dict[str, str], **kw: Any) -> int:
            url = hub_url(hub, "/api/v1" + path)
            async with http.request(method, url, headers=headers, **kw) as resp:
                return resp.status

        assert await call("POST", f"/tickets/{tid}/reply", sam, json={"text": "On it"}) == 202
        assert await call("POST", f"/tickets/{tid}/reply", sam, json={"text": "Still"}) == 202
        # An integration's message is outgoing, never a person's response.
        assert await call("POST", f"/tickets/{tid}/reply", ADMIN, json={"text": "Bot"}) == 202
        assert await call("PATCH", f"/tickets/{tid}", sam, json={"status": "solved"}) == 200
        assert await call("PATCH", f"/tickets/{tid}", sam, json={"status": "closed"}) == 200
        async with hub.store.read() as conn:
            rows = (await conn.execute(select(metric_events).order_by(metric_events.c.id))).all()
            daily = (
                await conn.execute(
                    select(metric_daily.c.kind, metric_daily.c.n).where(
                        metric_daily.c.team_id == "",
                        metric_daily.c.dim == "all",
                        metric_daily.c.span == "day",
                    )
                )
            ).all()
            counts = (
                await conn.execute(
                    select(
                        metric_counts.c.kind,
                        metric_counts.c.team_id,
                        metric_counts.c.channel,
                        metric_counts.c.agent,
                        func.sum(metric_counts.c.n),
                    ).group_by(
                        metric_counts.c.kind,
                        metric_counts.c.team_id,
                        metric_counts.c.channel,
                        metric_counts.c.agent,
                    )
                )
            ).all()
            ticket = (
                await conn.execute(
                    select(tickets.c.messages_in, tickets.c.messages_out).where(tickets.c.id == tid)
                )
            ).one()
    kinds = [r.kind for r in rows]
    # Messages in and out are counts, not rows (hub.events.counts).
    assert kinds == ["ticket_opened", "first_response", "reply", "ticket_solved"]
    assert sorted(tuple(c) for c in counts) == [
        ("message_in", "support", "webform", "", 1),
        ("message_out", "support", "webform", "", 2),  # the acknowledgement, the integration's
        ("message_out", "support", "webform", "sam", 2),
    ]
    assert tuple(ticket) == (1, 4)
    first = rows[1]
    assert (first.agent, first.team_id, first.channel, first.ticket_id) == (
        "sam",
        "support",
        "webform",
        tid,
    )
    assert first.seconds is not None and first.seconds >= 0
    # Sam's second reply answered nothing new from Ann: no wait to measure.
    assert rows[2].seconds is None
    assert rows[3].agent == "sam" and rows[3].seconds >= first.seconds
    assert dict(daily) == {
        "message_in": 1,
        "ticket_opened": 1,
        "message_out": 4,
        "first_response": 1,
        "reply": 1,
        "ticket_solved": 1,
    }


def test_a_changed_survey_answer_is_taken_back_out_of_the_counts() -> None:
    at = datetime(2026, 3, 7, 12, tzinfo=UTC)
    answer = MetricEvent("survey_answered", at, team="support", agent="sam", value=5)
    events = [answer, replace(answer, weight=-1), replace(answer, value=2)]
    rows = rollup_rows(events, ZoneInfo("UTC"))
    (total,) = [r for r in rows if (r["team_id"], r["dim"], r["span"]) == ("", "all", "day")]
    assert (total["n"], total["value_sum"], total["positive"]) == (1, 2, 0)
    sums = Sums(**{k: total[k] for k in ROLLUP_SUMS})
    assert figures({"survey_answered": sums}, business=False).csat_pct == 0.0
