"""The daily rollup's month rows: a range read off its whole months and its other days
sums what its days' rows sum, the backlog too (all time: the months before its end's
month); reports from the rollup agree with reports from the events over months; the
migration adds an existing database's months from its days."""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from hub.events.metrics import (
    FIRST_RESPONSE,
    MESSAGE_IN,
    REPLY,
    ROLLUP_SUMS,
    SURVEY_ANSWERED,
    TICKET_OPENED,
    TICKET_REOPENED,
    TICKET_SOLVED,
    MetricEvent,
    record,
    rollup_rows,
)
from hub.reports.report import build_report
from hub.reports.request import ReportForm, build_request
from hub.reports.rollup_read import rollup_backlog, rollup_sums
from hub.store import Store
from hub.store.migrate import upgrade
from hub.store.schema import metric_daily
from tests.migrated import downgrade

ZONE = "Asia/Dhaka"
START = datetime(2026, 1, 10, tzinfo=UTC)


def _events(rng: random.Random, n: int = 1_200) -> list[MetricEvent]:
    kinds = [TICKET_OPENED, TICKET_SOLVED, TICKET_REOPENED, REPLY, FIRST_RESPONSE, MESSAGE_IN]
    events = []
    for i in range(n):
        at = START + timedelta(seconds=rng.randrange(150 * 86400))
        kind = rng.choice([*kinds, SURVEY_ANSWERED])
        timed = kind in (REPLY, FIRST_RESPONSE, TICKET_SOLVED)
        team = rng.choice(["support", "billing", None])
        events.append(
            MetricEvent(
                kind,
                at,
                ticket_id=i,
                team=team,
                channel=rng.choice(["email", "webchat", "telegram"]),
                agent=rng.choice(["sam", "ria", None]),
                priority=rng.choice(["high", "normal", None]),
                tags=tuple(rng.sample(["vip", "refund", "bug"], rng.randrange(3))),
                seconds=rng.expovariate(1 / 3600.0) if timed else None,
                business_seconds=rng.uniform(0, 900) if timed and team == "support" else None,
                value=rng.randrange(1, 6) if kind == SURVEY_ANSWERED else None,
            )
        )
    return events


@pytest.fixture
async def store(storage_url: str) -> Store:
    s = Store(storage_url)
    await s.migrate()
    events = _events(random.Random(29))
    for i in range(0, len(events), 90):  # in batches, as the hub records them
        async with s.write() as conn:
            await record(conn, events[i : i + 90], ZoneInfo(ZONE))
    return s


# Ranges: inside a month; across a month's end; whole months and days on either side; a
# month but its last day; one day before the history; a first of the month to a last.
RANGES = [
    ("2026-02-10", "2026-02-12"),
    ("2026-02-25", "2026-03-04"),
    ("2026-01-20", "2026-05-17"),
    ("2026-03-01", "2026-03-30"),
    ("2026-01-09", "2026-01-09"),
    ("2026-02-01", "2026-04-30"),
]


def _request(first: str, last: str, **kw: Any) -> Any:
    return build_request(ReportForm(first, last, ZONE, **kw), None, 800)


async def _day_sums(store: Store, req: Any, group: str | None) -> dict[tuple[str, str], list[Any]]:
    """(member, kind) -> sums of the days' rows alone, as the rollup was read before spans."""
    d = metric_daily.c
    member = d.member if group else d.dim
    async with store.read() as conn:
        rows = await conn.execute(
            select(member, d.kind, *(func.sum(d[c]) for c in ROLLUP_SUMS))
            .where(
                d.span == "day",
                d.day >= req.local_start_date(),
                d.day < req.local_end_date(),
                d.team_id == "",
                d.dim == (group or "all"),
            )
            .group_by(member, d.kind)
        )
        return {("" if group is None else r[0], r[1]): list(r[2:]) for r in rows}


@pytest.mark.parametrize(("first", "last"), RANGES)
async def test_spans_sum_what_the_days_sum(store: Store, first: str, last: str) -> None:
    try:
        for group in (None, "channel", "tag"):
            req = _request(first, last, group=group)
            async with store.read() as conn:
                sums = await rollup_sums(conn, req)
            found = {
                (g, kind): [getattr(s, c) for c in ROLLUP_SUMS]
                for g, kinds in sums.items()
                for kind, s in kinds.items()
            }
            want = await _day_sums(store, req, group)
            assert found.keys() == want.keys()
            for key, values in want.items():
                assert found[key] == pytest.approx(values, rel=1e-9), key
    finally:
        await store.close()


@pytest.mark.parametrize("last", ["2026-01-09", "2026-03-01", "2026-03-31", "2026-04-16"])
async def test_the_backlog_sums_every_day_before_the_end(store: Store, last: str) -> None:
    try:
        req = _request("2026-01-01", last, group="channel")
        async with store.read() as conn:
            found = await rollup_backlog(conn, req)
        end = date.fromisoformat(last) + timedelta(days=1)
        async with store.read() as conn:
            rows = await conn.execute(
                text(
                    "SELECT member, SUM(CASE kind WHEN 'ticket_solved' THEN -n ELSE n END)"
                    " FROM metric_daily WHERE span = 'day' AND dim = 'channel' AND team_id = ''"
                    " AND day < :end AND kind IN"
                    " ('ticket_opened', 'ticket_solved', 'ticket_reopened') GROUP BY member"
                ),
                {"end": end},
            )
            want = {m: int(n) for m, n in rows}
        assert found == want
        assert last == "2026-01-09" or any(want.values())
    finally:
        await store.close()


async def test_reports_over_months_agree_with_the_events(store: Store) -> None:
    """The rollup (Dhaka's days) against the events (the report zone is not the rollup's)."""
    try:
        for kw in ({}, {"group": "channel"}, {"group": "agent"}, {"bucket": "week"}):
            req = _request("2026-01-20", "2026-05-17", **kw)
            from_rollup = await build_report(store, req, ZONE)
            from_events = await build_report(store, req, "Europe/Paris")
            assert (from_rollup.source, from_events.source) == ("rollup", "events")
            assert from_rollup.total.created > 0
            # Figures are rounded as shown (one decimal): the sums' order is no matter.
            assert asdict(from_rollup.total) == asdict(from_events.total)
            assert {g: asdict(f) for g, f in from_rollup.groups.items()} == {
                g: asdict(f) for g, f in from_events.groups.items()
            }
            assert [asdict(p) for p in from_rollup.series] == [
                asdict(p) for p in from_events.series
            ]
    finally:
        await store.close()


_KEY = ("dim", "team_id", "span", "day", "kind", "member")


async def _rows(store: Store) -> list[tuple[Any, ...]]:
    have = await _columns(store)  # no span before 0029
    columns = [c for c in (*_KEY, *ROLLUP_SUMS) if c in have]
    async with store.read() as conn:
        found = await conn.execute(text(f"SELECT {', '.join(columns)} FROM metric_daily"))
        out = []
        for r in found.mappings():
            day = r["day"] if isinstance(r["day"], date) else date.fromisoformat(r["day"])
            out.append(tuple(day if c == "day" else r[c] for c in columns))
        return sorted(out)


async def _columns(store: Store) -> set[str]:
    async with store.read() as conn:
        return set((await conn.execute(text("SELECT * FROM metric_daily LIMIT 0"))).keys())


async def test_the_migration_adds_months_to_the_days(empty_storage_url: str) -> None:
    """A database from before spans holds the days' rows only; 0029 keys them as days and
    adds the months' as rollup_rows writes them; the downgrade gives the days
    back."""
    expected = rollup_rows(_events(random.Random(31), 600), ZoneInfo(ZONE))
    days = [{k: v for k, v in r.items() if k != "span"} for r in expected if r["span"] == "day"]
    store = Store(empty_storage_url)
    try:
        await upgrade(store.engine, "0028_histogram_rows")
        names = list(days[0])
        async with store.write() as conn:
            await conn.execute(
                text(
                    f"INSERT INTO metric_daily ({', '.join(names)})"
                    f" VALUES ({', '.join(':' + k for k in names)})"
                ),
                days,
            )
            if store.dialect == "sqlite":
                await conn.exec_driver_sql("ANALYZE")
        await store.migrate()
        if store.dialect == "sqlite":
            # Statistics of the rebuilt table where the database had some (the others').
            async with store.read() as conn:
                stat = "SELECT stat FROM sqlite_stat1 WHERE tbl = 'metric_daily'"
                assert (await conn.exec_driver_sql(stat)).scalar()
        assert {r["span"] for r in expected} == {"day", "month"}
        want = sorted(tuple(r[c] for c in (*_KEY, *ROLLUP_SUMS)) for r in expected)
        found = await _rows(store)
        assert [r[:6] for r in found] == [r[:6] for r in want]
        assert [r[6:] for r in found] == [pytest.approx(r[6:]) for r in want]

        await downgrade(store, "0028_histogram_rows")
        back = await _rows(store)
        old = sorted(tuple(r[c] for c in (*_KEY, *ROLLUP_SUMS) if c != "span") for r in days)
        assert [r[:5] for r in back] == [r[:5] for r in old]
        assert [r[5:] for r in back] == [pytest.approx(r[5:]) for r in old]
    finally:
        await store.close()
