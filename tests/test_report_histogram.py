"""The durations' histogram gives the same medians and p90s as ranking every duration: its
buckets grow with the value and hold exactly what their ranges of seconds say, and a report
reading it agrees with one reading all the events, to the last bit."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hub.events.histogram import TOP, bucket_bounds, bucket_of
from hub.events.metrics import FIRST_RESPONSE, REPLY, TICKET_SOLVED, MetricEvent, record
from hub.reports.event_read import quantiles
from hub.reports.histogram_read import histogram_quantiles, histogram_serves
from hub.reports.request import ReportForm, build_request
from hub.store import Store
from hub.store.schema import metric_events

ZONE = "Asia/Dhaka"
START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [(-30.0, 0), (0.0, 0), (0.999, 0), (1.0, 3), (15.999, 32), (16.0, 37), (4194303.0, 224)],
)
def test_bucket_of_edges(seconds: float, bucket: int) -> None:
    assert bucket_of(seconds) == bucket


def test_buckets_grow_with_the_value_and_hold_their_range() -> None:
    rng = random.Random(15)
    values = [rng.expovariate(1 / 7200.0) for _ in range(20_000)]
    values += [rng.uniform(-5, 40) for _ in range(2_000)]
    values += [2.0**k for k in range(30)] + [2.0**k - 1e-9 for k in range(1, 30)]
    values += [float("inf"), 1e12]
    last = -1
    for v in sorted(values):
        b = bucket_of(v)
        lo, hi = bucket_bounds(b)
        assert lo is None or lo <= v
        assert hi is None or v < hi
        assert b >= last
        last = b
    assert bucket_of(float("inf")) == TOP


def _events(rng: random.Random) -> list[MetricEvent]:
    events = []
    for i in range(1_500):
        at = START + timedelta(seconds=rng.randrange(40 * 86400))
        team = rng.choice(["support", "billing", None])
        seconds = rng.choice([rng.expovariate(1 / 5000.0), float(rng.randrange(0, 40)), 60.0])
        kind = rng.choice([FIRST_RESPONSE, REPLY, REPLY, TICKET_SOLVED])
        business = seconds * 0.4 if team == "support" else None
        events.append(
            MetricEvent(
                kind,
                at,
                ticket_id=i,
                team=team,
                agent=rng.choice(["sam", "ria", "tuli", None]),
                channel="email",
                seconds=seconds,
                business_seconds=business,
            )
        )
    return events


@pytest.fixture
async def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite+aiosqlite:///{tmp_path}/h.db")
    await s.migrate()
    rng = random.Random(7)
    events = _events(rng)
    for i in range(0, len(events), 100):  # in batches, as the hub records them
        async with s.write() as conn:
            await record(conn, events[i : i + 100], ZoneInfo(ZONE))
    return s


FORMS = [
    ReportForm("2026-03-01", "2026-04-09", ZONE),
    ReportForm("2026-03-05", "2026-03-20", ZONE, filters={"team": "support"}),
    ReportForm("2026-03-07", "2026-03-07", ZONE),
    ReportForm("2026-05-01", "2026-05-03", ZONE),  # nothing in range
    ReportForm("2026-03-01", "2026-04-09", ZONE, group="agent"),
    ReportForm("2026-03-05", "2026-03-20", ZONE, group="agent", filters={"team": "support"}),
    ReportForm("2026-03-07", "2026-03-07", ZONE, group="agent"),
]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("basis", ["calendar", "business"])
async def test_histogram_quantiles_equal_ranking_every_value(
    store: Store, form: ReportForm, basis: str
) -> None:
    req = replace(build_request(form, None, 800), basis=basis)
    assert histogram_serves(req)
    try:
        for kind in (FIRST_RESPONSE, REPLY, TICKET_SOLVED):
            async with store.read() as conn:
                every = await quantiles(conn, req, kind)
                found = await histogram_quantiles(conn, req, kind)
            assert found == every
            if req.group == "agent" and form.start == "2026-03-01":
                assert {"sam", "ria", "tuli"} <= set(every)  # the agents' own, not only ''
    finally:
        await store.close()


async def test_a_team_leads_scope_is_kept(store: Store) -> None:
    try:
        for form in (FORMS[0], FORMS[4]):
            req = build_request(form, frozenset({"billing"}), 800)
            async with store.read() as conn:
                every = await quantiles(conn, req, REPLY)
                assert every  # billing replied
                assert await histogram_quantiles(conn, req, REPLY) == every
    finally:
        await store.close()


async def test_events_written_around_the_histogram_are_noticed(store: Store) -> None:
    req = build_request(FORMS[0], None, 800)
    try:
        async with store.read() as conn:
            median, _ = (await histogram_quantiles(conn, req, REPLY))[""]
        async with store.write() as conn:
            # Bypassing hub.events.metrics.record: the histogram does not count these.
            row = {"kind": REPLY, "occurred_at": START + timedelta(days=3), "tags": [],
                   "seconds": median, "weight": 1}  # fmt: skip
            await conn.execute(metric_events.insert(), [row, row, row])
        async with store.read() as conn:
            assert await histogram_quantiles(conn, req, REPLY) is None
    finally:
        await store.close()
