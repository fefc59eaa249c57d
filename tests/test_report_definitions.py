"""The metrics' definitions on a hand-made history with known answers (tests/report_history.py):
first response excludes the acknowledgement and the bot; reopen cycles; business time; a
bucket boundary on a DST change day; the rollup and the events give the same numbers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hub.app import Hub, open_hub
from hub.reports.buckets import bucket_start, buckets_between, label
from hub.reports.figures import Stats
from hub.reports.report import build_report
from hub.reports.request import ReportForm, build_request
from tests.report_history import NY, history_config, write_history
from tests.support import REGISTRY, make_config

MARCH = ReportForm("2026-03-01", "2026-03-10", "America/New_York")


@pytest.fixture
async def hub(storage_url: str) -> AsyncIterator[Hub]:
    async with open_hub(make_config(history_config(storage_url)), REGISTRY) as hub:
        await write_history(hub)
        yield hub


def _request(form: ReportForm = MARCH, **kw: object) -> object:
    from dataclasses import replace

    return build_request(replace(form, **kw), None, 800)


async def test_definitions_on_the_hand_made_history(hub: Hub) -> None:
    report = await build_report(hub.store, _request(), "America/New_York")
    assert report.source == "rollup"
    t = report.total
    assert (t.created, t.solved, t.solved_tickets, t.reopened, t.backlog) == (4, 2, 1, 1, 3)
    assert (t.messages_in, t.messages_out, t.replies) == (5, 8, 4)
    # Acknowledgements (A, B, D) and the bot's hand-over (C) are outgoing, never responses.
    assert t.first_response == Stats(3, 79200.0, 3600.0, 186480.0)
    assert t.next_response == Stats(1, 3600.0, 3600.0, 3600.0)
    # Two cycles of A: 09:00-12:00 on Monday, then an hour after the reopening on Tuesday.
    assert t.resolution == Stats(2, 7200.0, 7200.0, 10080.0)
    assert (t.bot_handovers, t.faq_answered, t.bot_containment_pct) == (1, 0, None)

    # Business time counts only the calendar's open hours. A: 1800 within Monday's hours;
    # B: Friday 16:00-17:00 and Monday 09:00-09:30; C: a Sunday.
    report = await build_report(hub.store, _request(basis="business"), "America/New_York")
    assert report.total.first_response == Stats(3, 2400.0, 1800.0, 4680.0)

    # Grouped by agent: credited to who replied.
    report = await build_report(hub.store, _request(group="agent"), "America/New_York")
    groups = report.groups
    assert list(groups) == ["ada", "bill", "sam"]
    assert groups["sam"].replies == 2 and groups["sam"].first_response.median == 1800.0
    assert groups["bill"].first_response == Stats(1, 232200.0, 232200.0, 232200.0)
    assert groups["sam"].solved == 2 and groups["sam"].solved_tickets == 1
    assert groups["ada"].backlog is None  # nobody's backlog by who replied

    by_team = await build_report(hub.store, _request(group="team"), "America/New_York")
    assert {g: f.created for g, f in by_team.groups.items()} == {"billing": 1, "support": 3}
    assert {g: f.backlog for g, f in by_team.groups.items()} == {"billing": 1, "support": 2}
    by_tag = await build_report(hub.store, _request(group="tag"), "America/New_York")
    assert {g: f.created for g, f in by_tag.groups.items()} == {"billing": 1}


async def test_days_and_hours_around_the_dst_change_and_both_sources_agree(hub: Hub) -> None:
    report = await build_report(hub.store, _request(bucket="day"), "America/New_York")
    created = {p.label: p.figures.created for p in report.series}
    # C at 01:30 EST on the 8th; D at 00:30 EDT on the 9th (23:30 on the 8th at EST's offset).
    assert (created["2026-03-08"], created["2026-03-09"]) == (1, 1)
    assert len(report.series) == 10
    hourly = await build_report(
        hub.store, _request(bucket="hour", start="2026-03-08", end="2026-03-08"), "x"
    )
    labels = [p.label for p in hourly.series]
    assert len(labels) == 23  # the day clocks go forward has 23 hours
    assert "2026-03-08T02:00-05:00" not in labels and "2026-03-08T02:00-04:00" not in labels
    busy = {
        p.label: (p.figures.created, p.figures.replies)
        for p in hourly.series
        if p.figures.replies or p.figures.created
    }
    assert busy == {"2026-03-08T01:00-05:00": (1, 0), "2026-03-08T03:00-04:00": (0, 1)}

    # The events give what the rollup gives.
    for kw in (
        {},
        {"group": "team"},
        {"group": "agent"},
        {"group": "channel"},
        {"bucket": "week"},
        {"group": "agent", "bucket": "day"},
        {"group": "priority"},
        {"group": "tag"},
        {"filters": {"channel": "webchat"}, "bucket": "day"},
        {"filters": {"agent": "sam"}},
    ):
        req = _request(**kw)
        from_rollup = await build_report(hub.store, req, "America/New_York")
        from_events = await build_report(hub.store, req, "Europe/Paris")  # not the rollup's
        assert (from_rollup.source, from_events.source) == ("rollup", "events")
        assert asdict(from_rollup.total) == asdict(from_events.total)
        assert {g: asdict(f) for g, f in from_rollup.groups.items()} == {
            g: asdict(f) for g, f in from_events.groups.items()
        }
        assert [asdict(p) for p in from_rollup.series] == [asdict(p) for p in from_events.series]


def test_buckets_on_the_night_clocks_go_back() -> None:
    # 1 November 2026: 01:00-02:00 EDT, then 01:00-02:00 EST again.
    start = datetime(2026, 11, 1, 4, tzinfo=UTC)  # 00:00 EDT
    hours = buckets_between(start, datetime(2026, 11, 2, 5, tzinfo=UTC), "hour", NY)
    assert len(hours) == 25
    first, second = (
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
    )
    assert bucket_start(first, "hour", NY) != bucket_start(second, "hour", NY)
    assert label(bucket_start(second, "hour", NY), "hour", NY) == "2026-11-01T01:00-05:00"
    days = buckets_between(start, datetime(2026, 11, 3, 5, tzinfo=UTC), "day", NY)
    assert (days[1] - days[0]).total_seconds() == 25 * 3600
    kolkata = ZoneInfo("Asia/Kolkata")
    assert bucket_start(datetime(2026, 1, 1, 4, 59, tzinfo=UTC), "hour", kolkata) == datetime(
        2026, 1, 1, 4, 30, tzinfo=UTC
    )
