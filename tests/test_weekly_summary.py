"""The weekly summary email (#15): due once a week at a local time in the team's zone, the
week's headline figures beside the week before's (from the reports module, on the
hand-made history of tests/report_history.py), sent through the outbox to each recipient
once per week: a second round, a second sweeper or a second hub process sends nothing
more; a hub down at the hour sends when it comes back within the week."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, date, datetime, time
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select

from hub.app import open_hub
from hub.cli.main import main
from hub.config.loader import ConfigError
from hub.events.metrics import (
    SLA_ACHIEVED,
    SLA_BREACHED,
    SURVEY_ANSWERED,
    MetricEvent,
    record,
)
from hub.reports.weekly_mail import format_change, format_duration, format_value
from hub.reports.weekly_send import KIND, WeeklySummaries, WeeklySummaryFailed
from hub.reports.weekly_when import due_week, send_instant
from hub.store.schema import outbox, weekly_summary_sends
from tests.report_history import at, history_config, write_history
from tests.support import REGISTRY, ROOT, SmtpSink, hub_running, make_config

NY = ZoneInfo("America/New_York")
DHAKA = ZoneInfo("Asia/Dhaka")
LEADS = ["lena@example.com", "Lars@Example.com"]
LEADS_NORMAL = [a.lower() for a in LEADS]


# ---- when: pure --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "week_start", "due_at"),
    [
        # Monday 9 March 2026, 08:00 EDT = 12:00 UTC (clocks went forward on the 8th).
        (at(9, 11, 59), date(2026, 2, 23), at(2, 13)),  # before the hour: last week's
        (at(9, 12), date(2026, 3, 2), at(9, 12)),  # at the hour
        (at(11, 15), date(2026, 3, 2), at(9, 12)),  # Wednesday: still due (catch-up)
        (at(16, 11, 59), date(2026, 3, 2), at(9, 12)),  # to the next send time
        (at(16, 12), date(2026, 3, 9), at(16, 12)),
        # Sunday night in New York is Monday in UTC: still the week before.
        (datetime(2026, 3, 10, 3, 30, tzinfo=UTC), date(2026, 3, 2), at(9, 12)),
    ],
)
def test_the_week_due_is_that_of_the_latest_send_time_passed(
    now: datetime, week_start: date, due_at: datetime
) -> None:
    week = due_week(now, 0, time(8), NY)
    assert (week.start, week.due_at) == (week_start, due_at)
    assert (week.end - week.start).days == 6


def test_a_send_time_the_clocks_skip_is_read_before_the_change() -> None:
    # 02:30 on 8 March 2026 does not exist in New York: 07:30 UTC (03:30 EDT).
    assert send_instant(date(2026, 3, 8), time(2, 30), NY) == datetime(
        2026, 3, 8, 7, 30, tzinfo=UTC
    )
    # Friday 17:00 in Dhaka (UTC+6) is 11:00 UTC; the week is the seven days before Friday.
    week = due_week(datetime(2026, 3, 13, 11, tzinfo=UTC), 4, time(17), DHAKA)
    assert (week.start, week.end) == (date(2026, 3, 6), date(2026, 3, 12))


@pytest.mark.parametrize(
    ("seconds", "locale", "text"),
    [
        (45, "en", "45 sec"),
        (2700, "en", "45 min"),
        (5400, "en", "1 hr 30 min"),
        (7200, "en", "2 hr"),
        (232200, "en", "2 days 17 hr"),
        (5400, "bn", "1 ঘণ্টা 30 মিনিট"),
    ],
)
def test_durations_read_to_the_minute(seconds: float, locale: str, text: str) -> None:
    assert format_duration(seconds, locale) == text


def test_values_and_changes() -> None:
    assert format_value("count", 1234, "en") == "1,234"
    assert format_value("pct", 85.5, "en") == "85.5%"
    assert format_value("pct", None, "en") == "–"
    assert format_change("count", 3, 0, "en") == "+3"
    assert format_change("count", 2, 5, "en") == "-3"
    assert format_change("count", 2, 2, "en") == "0"
    assert format_change("duration", 2700, 3600, "en") == "-15 min"
    assert format_change("pct", 90.0, 87.5, "en") == "+2.5"
    assert format_change("duration", 2700, None, "en") == "–"


# ---- config ------------------------------------------------------------------------------


def _config(storage_url: str, *summaries: dict[str, Any], smtp_port: int = 1) -> dict[str, Any]:
    data = history_config(storage_url)
    data["connectors"][1]["port"] = smtp_port
    data["reports"] = {"timezone": "America/New_York", "weekly": {"summaries": list(summaries)}}
    return data


LEAD_SUMMARY = {"name": "leads", "to": LEADS, "via": "mail", "send_at": "monday 08:00"}


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        ({"via": "contact"}, "summaries[0].via", "'contact' is not the id of an email connector"),
        ({"via": "nope"}, "summaries[0].via", "not the id of an email connector"),
        ({"to": ["lena@", "x@example.com"]}, "summaries[0].to", "'lena@' is not an email address"),
        ({"team": "sales"}, "summaries[0].team", "no team 'sales'"),
        ({"language": "fr"}, "summaries[0].language", "'fr' is not one of hub.locales"),
        ({"send_at": "mon 8am"}, "summaries[0].send_at", "a weekday and a time"),
        ({"send_at": "monday 25:00"}, "summaries[0].send_at", "HH:MM"),
        ({"timezone": "Mars/Olympus"}, "summaries[0].timezone", "unknown IANA time zone"),
    ],
)
def test_config_errors_name_the_file_line_and_key(
    tmp_path: Path, change: dict[str, Any], where: str, message: str
) -> None:
    data = _config(f"sqlite+aiosqlite:///{tmp_path}/hub.db", {**LEAD_SUMMARY, **change})
    with pytest.raises(ConfigError) as info:
        make_config(data)
    text = str(info.value)
    assert f"reports.weekly.{where}: " in text and message in text
    assert text.startswith("test.yaml:") and not text.startswith("test.yaml:0:")


def test_config_normalises_recipients_and_refuses_a_name_twice(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    config = make_config(_config(url, {**LEAD_SUMMARY, "to": [*LEADS, "LENA@example.com"]}))
    assert config.reports.weekly.summaries[0].to == ["lena@example.com", "lars@example.com"]
    with pytest.raises(ConfigError, match="summary name 'leads' is used twice"):
        make_config(_config(url, LEAD_SUMMARY, LEAD_SUMMARY))


# ---- the job, end to end -----------------------------------------------------------------


def _mails(sink: SmtpSink) -> list[EmailMessage]:
    return [m for m in sink.messages if str(m["To"]) in LEADS_NORMAL]


def _text(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _html(mail: EmailMessage) -> str:
    part = mail.get_body(("html",))
    assert part is not None
    return str(part.get_content())


async def _settle(sink: SmtpSink, count: int) -> list[EmailMessage]:
    """The summaries received once `count` arrived, and a moment more for any extra."""
    deadline = asyncio.get_running_loop().time() + 15
    while len(_mails(sink)) < count:
        assert asyncio.get_running_loop().time() < deadline, f"expected {count} summaries"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    return _mails(sink)


async def test_summary_sent_once_per_recipient_at_the_local_hour_with_the_weeks_figures(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    data = _config(f"sqlite+aiosqlite:///{tmp_path}/hub.db", LEAD_SUMMARY, smtp_port=smtp.port)
    async with hub_running(make_config(data)) as hub:
        assert "weekly-summary" in hub.scheduler.job_names()
        # The test drives the rounds with its own clock.
        await hub.scheduler.stop()
        await write_history(hub)

        # Monday 2 March, after 08:00 EST: the week before (23 February - 1 March) is due.
        assert await hub.weekly.run(at(2, 13, 5)) == ["leads"]
        # Monday 9 March, 07:55 EDT: not yet.
        assert await hub.weekly.run(at(9, 11, 55)) == []
        assert len(await _settle(smtp, 2)) == 2
        # 08:00 EDT: the week of 2-8 March, to each recipient.
        assert await hub.weekly.run(at(9, 12)) == ["leads"]
        mails = (await _settle(smtp, 4))[2:]
        # Another round, and another sweeper on the same database: nothing more.
        assert await hub.weekly.run(at(9, 12, 10)) == []
        second = WeeklySummaries(hub.weekly.deps, hub.weekly.config)
        assert await second.run(at(10, 9)) == []
        assert len(await _settle(smtp, 4)) == 4

    assert sorted(str(m["To"]) for m in mails) == sorted(LEADS_NORMAL)
    mail = mails[0]
    assert mail["Subject"] == "Weekly summary: Mar 2, 2026 to Mar 8, 2026"
    # Marked automatic (RFC 3834): no vacation responder answers it.
    assert str(mail["Auto-Submitted"]).startswith("auto-")
    text = _text(mail)
    # 2-8 March in New York: A, B and C opened; A solved twice (one ticket); first
    # responses to A (1800 s) and C (3600 s), bill's to B came on the 9th; A's two
    # resolutions 10800 s and 3600 s; B and C open at the end. The week before: nothing.
    for line in (
        "Tickets created: 3 (week before: 0; change: +3)",
        "Tickets solved: 1 (week before: 0; change: +1)",
        "First response, median: 45 min (week before: –; change: –)",
        "Resolution, median: 2 hr (week before: –; change: –)",
        "SLA achieved: – (week before: –; change: –)",
        "CSAT (rated 4 or 5): – (week before: –; change: –)",
        "Open at the end of the week: 2 (week before: 0; change: +2)",
    ):
        assert line in text.splitlines(), text
    link = (
        "http://127.0.0.1/inbox/reports?from=2026-03-02&to=2026-03-08"
        "&tz=America%2FNew_York&bucket=day&group=team"
    )
    assert link in text
    html = _html(mail)
    assert f'href="{link.replace("&", "&amp;")}"' in html
    assert '<td>Tickets created</td><td align="right"><strong>3</strong></td>' in html


async def test_a_hub_down_at_the_hour_sends_when_it_comes_back_that_week(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _config(f"sqlite+aiosqlite:///{tmp_path}/hub.db", LEAD_SUMMARY)
    config = make_config(data)
    async with open_hub(config, REGISTRY) as hub:
        await write_history(hub)
        # What SLA clocks and surveys (#10, CSAT) record: an SLA met in the week of 2-8
        # March; two met and one breached, and answers rated 5, 4 and 2, in 9-15 March.
        sla = [(at(4, 15), SLA_ACHIEVED), (at(10, 15), SLA_ACHIEVED),
               (at(11, 15), SLA_ACHIEVED), (at(12, 15), SLA_BREACHED)]  # fmt: skip
        async with hub.store.write() as conn:
            await record(
                conn,
                [MetricEvent(kind, when, team="support") for when, kind in sla]
                + [
                    MetricEvent(SURVEY_ANSWERED, at(13, 15), team="support", value=rating)
                    for rating in (5, 4, 2)
                ],
                NY,
            )
        assert await hub.weekly.run(at(9, 12)) == ["leads"]  # the week of 2-8 March
    # Down from before Monday 16 March 08:00 EDT until Wednesday: a new process, the same
    # database, sends the week of 9-15 March then, and only it.
    async with open_hub(config, REGISTRY) as hub:
        assert await hub.weekly.run(at(18, 20)) == ["leads"]
        assert await hub.weekly.run(at(18, 20, 10)) == []
        async with hub.store.read() as conn:
            weeks = (await conn.execute(select(weekly_summary_sends))).all()
            rows = (
                await conn.execute(
                    select(outbox.c.recipient, outbox.c.body_text, outbox.c.connector_id)
                    .where(outbox.c.kind == KIND)
                    .order_by(outbox.c.id)
                )
            ).all()
    assert [(w.summary, w.week_start, w.recipients) for w in weeks] == [
        ("leads", date(2026, 3, 2), 2),
        ("leads", date(2026, 3, 9), 2),
    ]
    assert [r.recipient for r in rows] == LEADS_NORMAL * 2
    assert {r.connector_id for r in rows} == {"mail"}
    text = rows[-1].body_text
    # 9-15 March: D opened; bill answered B after 232200 s; B, C and D open at the end.
    assert "Tickets created: 1 (week before: 3; change: -2)" in text
    assert (
        "First response, median: 2 days 17 hr (week before: 45 min; change: +2 days 16 hr)" in text
    )
    assert "Open at the end of the week: 3 (week before: 2; change: +1)" in text
    assert "SLA achieved: 66.7% (week before: 100.0%; change: -33.3 points)" in text
    assert "CSAT (rated 4 or 5): 66.7% (week before: –; change: –)" in text

    # `hub reports weekly` shows what went out, and queues nothing.
    (tmp_path / "hub.yaml").write_text(yaml.safe_dump(data))
    args = ["reports", "weekly", "--config", str(tmp_path / "hub.yaml")]
    assert await asyncio.to_thread(main, [*args, "--at", "2026-03-18T16:00-04:00"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith(
        "# leads: 2026-03-09 .. 2026-03-15, due 2026-03-16 12:00 UTC (queued already)\n"
        "To: lena@example.com, lars@example.com (via mail)\n"
        "Subject: Weekly summary: Mar 9, 2026 to Mar 15, 2026\n"
    )
    assert shown.count(text) == 1
    assert await asyncio.to_thread(main, [*args, "--at", "2026-03-23T08:00-04:00"]) == 0
    assert "2026-03-16 .. 2026-03-22, due 2026-03-23 12:00 UTC (not queued yet)" in (
        capsys.readouterr().out
    )
    assert await asyncio.to_thread(main, [*args, "--summary", "nobody"]) == 2
    assert await asyncio.to_thread(main, [*args, "--at", "2026-03-23T08:00"]) == 2
    async with open_hub(config, REGISTRY) as hub, hub.store.read() as conn:
        assert len((await conn.execute(select(outbox).where(outbox.c.kind == KIND))).all()) == 4


async def test_bengali_summary_of_one_team_in_its_own_zone(tmp_path: Path) -> None:
    billing = {
        "name": "billing-bn",
        "to": ["rahim@example.com"],
        "via": "mail",
        "team": "billing",
        "send_at": "sunday 09:00",
        "timezone": "Asia/Dhaka",
        "language": "bn",
    }
    config = make_config(_config(f"sqlite+aiosqlite:///{tmp_path}/hub.db", billing))
    async with open_hub(config, REGISTRY) as hub:
        await write_history(hub)
        # Sunday 15 March 09:00 in Dhaka is 03:00 UTC: a minute before, the week of 1-7
        # March there is due (never sent yet); at 09:00, the week of 8-14 March.
        assert await hub.weekly.run(datetime(2026, 3, 15, 2, 59, tzinfo=UTC)) == ["billing-bn"]
        assert await hub.weekly.run(datetime(2026, 3, 15, 3, tzinfo=UTC)) == ["billing-bn"]
        async with hub.store.read() as conn:
            row = (
                await conn.execute(
                    select(outbox).where(outbox.c.kind == KIND).order_by(outbox.c.id.desc())
                )
            ).first()
    assert row is not None
    assert row.subject == "সাপ্তাহিক সারসংক্ষেপ (Billing): 8 মার্চ, 2026 থেকে 14 মার্চ, 2026"
    text = row.body_text
    # Billing's week in Dhaka: bill's answer to B (9 March 19:30 there, 232200 s after
    # B opened on the 7th); B still open. The week before: B opened.
    assert "সমাধান করা টিকিট: 0 (আগের সপ্তাহ: 0; পরিবর্তন: 0)" in text
    assert "প্রথম উত্তরের সময় (মধ্যমা): 2 দিন 17 ঘণ্টা (আগের সপ্তাহ: –; পরিবর্তন: –)" in text
    assert "নতুন টিকিট: 0 (আগের সপ্তাহ: 1; পরিবর্তন: -1)" in text
    assert "team=billing" in text and "group=agent" in text
    assert row.body_html is not None and '<th align="right">এই সপ্তাহ</th>' in row.body_html


async def test_a_summary_that_cannot_render_holds_back_no_other_and_stays_due(
    tmp_path: Path,
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    # Compiles (the hub starts), fails when rendered: the operator's mistake, not ours.
    (templates / "bn" / "weekly_summary.txt.j2").write_text("{{ summary.nonesuch }}\n")
    data = _config(
        f"sqlite+aiosqlite:///{tmp_path}/hub.db",
        {**LEAD_SUMMARY, "name": "bengali", "language": "bn", "to": ["rahim@example.com"]},
        LEAD_SUMMARY,
    )
    data["replies"]["templates_dir"] = str(templates)
    async with open_hub(make_config(data), REGISTRY) as hub:
        with pytest.raises(WeeklySummaryFailed, match="bengali"):
            await hub.weekly.run(at(9, 12))
        (templates / "bn" / "weekly_summary.txt.j2").unlink()  # falls back to English
        # The next round (after the scheduler's backoff) sends the one that failed.
        assert await hub.weekly.run(at(9, 12, 1)) == ["bengali"]
        async with hub.store.read() as conn:
            rows = (
                await conn.execute(
                    select(outbox.c.recipient).where(outbox.c.kind == KIND).order_by(outbox.c.id)
                )
            ).all()
    assert [r.recipient for r in rows] == [*LEADS_NORMAL, "rahim@example.com"]


async def test_two_hub_processes_racing_on_postgresql_send_each_week_once(pg_url: str) -> None:
    config = make_config(_config(pg_url, LEAD_SUMMARY))
    summary = config.reports.weekly.summaries[0]
    async with open_hub(config, REGISTRY) as one, open_hub(config, REGISTRY) as two:
        # Both past the check and rendering at once: the database lets one queue the week.
        week = one.weekly.due(summary, at(9, 12))
        raced = await asyncio.gather(
            one.weekly.queue(summary, week, at(9, 12)), two.weekly.queue(summary, week, at(9, 12))
        )
        assert sorted(raced) == [False, True]
        # Whole rounds, side by side: the week of 9-15 March once, the rest already sent.
        rounds = []
        for now in (at(9, 12, 1), at(16, 12), at(18, 9)):
            rounds.append(await asyncio.gather(one.weekly.run(now), two.weekly.run(now)))
        async with one.store.read() as conn:
            rows = (
                await conn.execute(select(outbox.c.recipient).where(outbox.c.kind == KIND))
            ).all()
    assert [sorted(map(len, r)) for r in rounds] == [[0, 0], [0, 1], [0, 0]]
    assert sorted(r.recipient for r in rows) == sorted(LEADS_NORMAL * 2)
