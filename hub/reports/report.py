"""One report: the figures of the whole range and of each group, the previous period's for
comparison, and a time series; read from the rollup where it answers exactly, else from
the events. Medians, p90s and distinct solved tickets always come from the events."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.metrics import (
    FIRST_RESPONSE,
    MESSAGE_IN,
    MESSAGE_OUT,
    REPLY,
    TICKET_OPENED,
    TICKET_REOPENED,
    TICKET_SOLVED,
)
from hub.reports.buckets import bucket_start, buckets_between, day_start, label, slot_start
from hub.reports.count_read import count_slots, count_sums
from hub.reports.event_read import event_backlog, event_slots, event_sums, quantiles, solved_tickets
from hub.reports.figures import DURATIONS, Exact, Figures, KindSums, Sums, figures
from hub.reports.histogram_read import histogram_quantiles, histogram_serves
from hub.reports.request import ReportRequest
from hub.reports.rollup_read import rollup_backlog, rollup_by_day, rollup_serves, rollup_sums
from hub.store import Store

_T = TypeVar("_T")

# What a time series shows per bucket.
SERIES_KINDS = (
    TICKET_OPENED,
    TICKET_SOLVED,
    TICKET_REOPENED,
    MESSAGE_IN,
    MESSAGE_OUT,
    FIRST_RESPONSE,
    REPLY,
)


@dataclass(frozen=True)
class Point:
    start: datetime
    label: str
    figures: Figures


@dataclass(frozen=True)
class Report:
    request: ReportRequest
    # rollup | events: where the counts came from.
    source: str
    total: Figures
    groups: Mapping[str, Figures]
    previous: Figures | None
    series: list[Point]


async def build_report(store: Store, req: ReportRequest, report_zone: str) -> Report:
    """The report `req` asks for; `report_zone` is the rollup's (reports.timezone)."""
    use_rollup = rollup_serves(req, report_zone)

    grouping = req.group is not None

    async def whole(conn: AsyncConnection) -> tuple[Counts, Counts, list[Point]]:
        total = await _counts(conn, replace(req, group=None), use_rollup)
        prev = await _counts(conn, replace(req.previous(), group=None), use_rollup)
        series = await _series(conn, req, use_rollup) if req.bucket else []
        return total, prev, series

    async def group_sums(conn: AsyncConnection) -> dict[str, KindSums]:
        return await _sums(conn, req, use_rollup)

    async def group_backlog(conn: AsyncConnection) -> dict[str, int]:
        return await _backlog(conn, req, use_rollup)

    if req.percentiles:
        # Medians, p90s and distinct tickets of every group and of the total: the slow
        # part, each kind on a connection of its own, at once. The counts meanwhile take
        # one connection: more would only compete with their sorts for the cores.
        async def counted(
            conn: AsyncConnection,
        ) -> tuple[tuple[Counts, Counts, list[Point]], Counts]:
            grouped = await _counts(conn, req, use_rollup) if grouping else ({}, {})
            return await whole(conn), grouped

        exact, ((total, prev, series), groups) = await asyncio.gather(
            _exact(store, req, use_rollup), _on_own(store, counted)
        )
    else:
        # Counts only: the groups' sums and backlogs (the larger reads) on connections
        # of their own beside the rest.
        exact = None
        (total, prev, series), sums, backlog = await asyncio.gather(
            _on_own(store, whole),
            _on_own(store, group_sums) if grouping else _nothing({}),
            _on_own(store, group_backlog) if grouping else _nothing({}),
        )
        groups = (sums, backlog)
    by_group: dict[str, Figures] = {}
    if grouping:
        by_group = _figures(req, groups, exact)
        by_group.pop("", None)
        by_group = dict(sorted(by_group.items()))
    return Report(
        req,
        "rollup" if use_rollup else "events",
        _figures(req, total, exact)[""],
        by_group,
        _figures(req, prev, None)[""],
        series,
    )


async def _on_own(store: Store, work: Callable[[AsyncConnection], Awaitable[_T]]) -> _T:
    async with store.read() as conn:
        return await work(conn)


async def _nothing(value: _T) -> _T:
    return value


# group -> kind -> sums, and group -> backlog.
Counts = tuple[dict[str, KindSums], dict[str, int]]


async def _counts(conn: AsyncConnection, req: ReportRequest, rollup: bool) -> Counts:
    return await _sums(conn, req, rollup), await _backlog(conn, req, rollup)


async def _sums(conn: AsyncConnection, req: ReportRequest, rollup: bool) -> dict[str, KindSums]:
    if rollup:
        sums = await rollup_sums(conn, req)
    else:
        sums = await event_sums(conn, req)
        for group, kinds in (await count_sums(conn, req)).items():
            sums.setdefault(group, {}).update(kinds)  # kinds of their own: nothing to add
    sums.setdefault("", {})
    return sums


async def _backlog(conn: AsyncConnection, req: ReportRequest, rollup: bool) -> dict[str, int]:
    if req.group == "agent":
        return {}  # tickets are nobody's backlog by who replied
    return await (rollup_backlog(conn, req) if rollup else event_backlog(conn, req))


def _figures(
    req: ReportRequest, counts: Counts, exact: dict[str, Exact] | None
) -> dict[str, Figures]:
    sums, backlog = counts
    business = req.basis == "business"
    # Computed, a group without solves solved 0 tickets; not computed, it is unknown.
    missing = Exact(solved_tickets=0) if exact is not None else Exact()
    extra = exact or {}
    return {g: figures(s, business, extra.get(g, missing), backlog.get(g)) for g, s in sums.items()}


async def _exact(store: Store, req: ReportRequest, use_rollup: bool) -> dict[str, Exact]:
    async def of_kind(
        conn: AsyncConnection, kind: str
    ) -> dict[str, tuple[float | None, float | None]]:
        # The histogram shares the rollup's days; it spares reading every duration.
        if use_rollup and histogram_serves(req):
            found = await histogram_quantiles(conn, req, kind)
            if found is not None:
                return found
        return await quantiles(conn, req, kind)

    kinds = list(DURATIONS.values())
    if store.engine.dialect.name == "sqlite":
        # One after another: each SQLite connection reads in a thread of its own, whose
        # rows become Python objects under the GIL; four at once took twice as long as
        # one after another (bench/reports.py, per agent: 280 against 146 ms).
        async with store.read() as conn:
            found = [await of_kind(conn, k) for k in kinds]
            tickets = await solved_tickets(conn, req)
    else:
        # PostgreSQL's reads run in its server processes: each on a connection of its own.
        *found, tickets = await asyncio.gather(
            *(_on_own(store, lambda conn, k=k: of_kind(conn, k)) for k in kinds),
            _on_own(store, lambda conn: solved_tickets(conn, req)),
        )
    qs = dict(zip(DURATIONS, found, strict=True))
    names = set(tickets) | {g for per in qs.values() for g in per}
    return {
        g: Exact(
            quantiles={name: per.get(g, (None, None)) for name, per in qs.items()},
            solved_tickets=tickets.get(g, 0),
        )
        for g in names
    }


async def _series(conn: AsyncConnection, req: ReportRequest, rollup: bool) -> list[Point]:
    unit = req.bucket
    assert unit is not None
    req = replace(req, group=None)  # the series is the total's
    by_bucket: dict[datetime, KindSums] = {
        b: {} for b in buckets_between(req.start, req.end, unit, req.zone)
    }
    if rollup:
        for day, sums in (await rollup_by_day(conn, req, SERIES_KINDS)).items():
            _add(by_bucket, bucket_start(day_start(day, req.zone), unit, req.zone), sums)
    else:
        for read in (event_slots, count_slots):
            for slot, sums in (await read(conn, req, SERIES_KINDS)).items():
                _add(by_bucket, bucket_start(slot_start(slot), unit, req.zone), sums)
    business = req.basis == "business"
    return [
        Point(start, label(start, unit, req.zone), figures(sums, business))
        for start, sums in by_bucket.items()
    ]


def _add(into: dict[datetime, KindSums], bucket: datetime, sums: KindSums) -> None:
    target = into.get(bucket)
    if target is None:
        return  # outside the range (the first week's days before `from`)
    for kind, s in sums.items():
        t = target.setdefault(kind, Sums())
        t.add((s.n, s.seconds_n, s.seconds_sum, s.business_n, s.business_sum, s.value_sum,
               s.positive))  # fmt: skip
