"""Reading the events (metric_events): per-kind sums where the rollup cannot answer (another
zone's days, hours, several filters), medians and p90s, distinct solved tickets, and sums
per UTC quarter hour for buckets in any zone. Every query reads one kind (or a few) over a
range of time through the (kind, occurred_at, ...) index."""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime
from math import inf
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Text,
    case,
    cast,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.metrics import (
    KINDS,
    POSITIVE_RATING,
    SURVEY_ANSWERED,
    TICKET_OPENED,
    TICKET_REOPENED,
    TICKET_SOLVED,
)
from hub.reports.buckets import SLOT_SECONDS
from hub.reports.figures import DURATIONS, KindSums, Sums, quantile
from hub.reports.request import ReportRequest
from hub.store.schema import metric_events

e = metric_events.c
_COLUMNS = {"team": e.team_id, "channel": e.channel, "agent": e.agent, "priority": e.priority}


def like_tag(tags: ColumnElement[str], tag: str) -> ColumnElement[bool]:
    """A JSON list of tags (as text) holding `tag`: the quoted tag inside its text, with
    LIKE's wildcards escaped."""
    quoted = json.dumps(tag).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return tags.like(f"%{quoted}%", escape="\\")


def conditions(req: ReportRequest, start: datetime | None = None) -> list[ColumnElement[bool]]:
    """The request's range (from `start` if given; None: from the beginning) and scope."""
    where: list[ColumnElement[bool]] = [e.occurred_at < req.end]
    if start is not None:
        where.append(e.occurred_at >= start)
    if req.teams is not None:
        where.append(e.team_id.in_(sorted(req.teams)))
    for key, value in req.filters.items():
        where.append(
            like_tag(cast(e.tags, Text), value) if key == "tag" else _COLUMNS[key] == value
        )
    return where


def _group(req: ReportRequest) -> ColumnElement[Any]:
    if req.group is None:
        # A constant: selected, never grouped by (PostgreSQL refuses GROUP BY '').
        return literal_column("''")
    if req.group == "tag":
        return cast(e.tags, Text)
    return _COLUMNS[req.group]


def _expand(req: ReportRequest, g: Any) -> Iterable[str]:
    """The groups one row counts in: a tag list's each tag, else the value itself."""
    if req.group == "tag":
        tags = json.loads(g) if g else []
        return sorted({str(t) for t in tags if t})
    if req.group is not None and (g is None or g == ""):
        return ()
    return (str(g),)


def _by(req: ReportRequest, g: ColumnElement[Any], *more: Any) -> list[Any]:
    return [g, *more] if req.group is not None else list(more)


def _sum_columns() -> list[ColumnElement[Any]]:
    """The rollup's sums over events: every count adds the event's weight (a taken-back
    survey answer is -1)."""
    w = e.weight
    positive = case(
        ((e.kind == SURVEY_ANSWERED) & (e.value >= POSITIVE_RATING), w),
        else_=0,
    )
    measured = case((e.seconds.is_not(None), w), else_=0)
    business = case((e.business_seconds.is_not(None), w), else_=0)
    return [
        func.sum(w),
        func.sum(measured),
        func.coalesce(func.sum(e.seconds * w), 0.0),
        func.sum(business),
        func.coalesce(func.sum(e.business_seconds * w), 0.0),
        func.coalesce(func.sum(e.value * w), 0),
        func.sum(positive),
    ]


async def event_sums(conn: AsyncConnection, req: ReportRequest) -> dict[str, KindSums]:
    """group -> kind -> sums over the request's range."""
    g = _group(req)
    rows = await conn.execute(
        select(g.label("g"), e.kind, *_sum_columns())
        .where(e.kind.in_(KINDS), *conditions(req, req.start))
        .group_by(*_by(req, g, e.kind))
    )
    out: dict[str, KindSums] = {}
    for r in rows:
        for name in _expand(req, r[0]):
            out.setdefault(name, {}).setdefault(r[1], Sums()).add(r[2:])
    return out


def slot_of(dialect: str) -> ColumnElement[int]:
    """The UTC quarter hour an event happened in, as a number."""
    if dialect == "sqlite":
        seconds = cast(func.strftime("%s", e.occurred_at), Integer)
        return seconds // SLOT_SECONDS
    epoch = func.extract("epoch", e.occurred_at)
    return cast(func.floor(epoch / SLOT_SECONDS), BigInteger)


async def event_slots(
    conn: AsyncConnection, req: ReportRequest, kinds: Sequence[str]
) -> dict[int, KindSums]:
    """quarter hour -> kind -> sums, every group together (a time series in any zone)."""
    slot = slot_of(conn.dialect.name)
    rows = await conn.execute(
        select(slot.label("slot"), e.kind, *_sum_columns())
        .where(e.kind.in_(kinds), *conditions(req, req.start))
        .group_by(slot, e.kind)
    )
    out: dict[int, KindSums] = {}
    for r in rows:
        out.setdefault(int(r[0]), {}).setdefault(r[1], Sums()).add(r[2:])
    return out


async def event_backlog(conn: AsyncConnection, req: ReportRequest) -> dict[str, int]:
    """group -> tickets open at the request's end (opened - solved + reopened)."""
    g = _group(req)
    kinds = (TICKET_OPENED, TICKET_SOLVED, TICKET_REOPENED)
    rows = await conn.execute(
        select(g.label("g"), e.kind, func.sum(e.weight))
        .where(e.kind.in_(kinds), *conditions(req))
        .group_by(*_by(req, g, e.kind))
    )
    out: dict[str, int] = {}
    for g_value, kind, n in rows:
        for name in _expand(req, g_value):
            out[name] = out.get(name, 0) + (-n if kind == TICKET_SOLVED else n)
    return out


async def solved_tickets(conn: AsyncConnection, req: ReportRequest) -> dict[str, int]:
    """group -> distinct tickets solved in the range; '' -> all of them."""
    where = [e.kind == TICKET_SOLVED, *conditions(req, req.start)]
    total = (await conn.execute(select(func.count(e.ticket_id.distinct())).where(*where))).scalar()
    out = {"": int(total or 0)}
    if req.group is None:
        return out
    g = _group(req)
    if req.group == "tag":
        seen: dict[str, set[int]] = {}
        for g_value, ticket in await conn.execute(select(g, e.ticket_id).where(*where).distinct()):
            for name in _expand(req, g_value):
                seen.setdefault(name, set()).add(ticket)
        return out | {k: len(v) for k, v in seen.items()}
    rows = await conn.execute(
        select(g.label("g"), func.count(e.ticket_id.distinct())).where(*where).group_by(g)
    )
    return out | {name: int(n) for g_value, n in rows for name in _expand(req, g_value)}


Quantiles = dict[str, dict[str, tuple[float | None, float | None]]]


async def quantiles(conn: AsyncConnection, req: ReportRequest) -> Quantiles:
    """duration -> group -> (median, p90). PostgreSQL computes them (percentile_cont);
    SQLite sorts the values (group and value only, off the covering index) and they are
    picked here by rank: its window functions took five times as long."""
    out: Quantiles = {}
    value = e.business_seconds if req.basis == "business" else e.seconds
    in_sql = conn.dialect.name == "postgresql" and req.group != "tag"
    for name, kind in DURATIONS.items():
        where = [e.kind == kind, value.is_not(None), *conditions(req, req.start)]
        if in_sql:
            out[name] = await _quantiles_in_sql(conn, req, value, where)
        elif req.group == "tag":
            out[name] = await _quantiles_here(conn, req, value, where)
        else:
            out[name] = await _quantiles_sorted(conn, req, value, where)
    return out


async def _quantiles_in_sql(
    conn: AsyncConnection, req: ReportRequest, value: Any, where: list[Any]
) -> dict[str, tuple[float | None, float | None]]:
    """PostgreSQL: each group's and (GROUPING SETS) the total's, in one statement."""
    pcs = (
        func.percentile_cont(0.5).within_group(value),
        func.percentile_cont(0.9).within_group(value),
    )
    if req.group is None:
        rows = [("", *r) for r in await conn.execute(select(*pcs).where(*where))]
    else:
        g = _group(req)
        found = await conn.execute(
            select(g, func.grouping(g), *pcs)
            .where(*where)
            .group_by(func.grouping_sets(g, tuple_()))
        )
        rows = [("" if is_total else g_value, m, p) for g_value, is_total, m, p in found]
    out: dict[str, tuple[float | None, float | None]] = {}
    for g_value, median, p90 in rows:
        if median is None:
            continue  # the total's row of NULLs when nothing matched
        names = ("",) if g_value == "" else _expand(req, g_value)
        for name in names:
            out[name] = (float(median), float(p90))
    return out


async def _quantiles_here(
    conn: AsyncConnection, req: ReportRequest, value: Any, where: list[Any]
) -> dict[str, tuple[float | None, float | None]]:
    """Each group's and the total's (every value once), from the values sorted here."""
    values: dict[str, list[float]] = {"": []}
    total = values[""]
    for g_value, v in await conn.execute(select(_group(req), value).where(*where)):
        total.append(v)
        if req.group is not None:
            for name in _expand(req, g_value):
                values.setdefault(name, []).append(v)
    out = {}
    for name, vs in values.items():
        vs.sort()
        out[name] = (quantile(vs, 0.5), quantile(vs, 0.9))
    return out


async def _quantiles_sorted(
    conn: AsyncConnection, req: ReportRequest, value: Any, where: list[Any]
) -> dict[str, tuple[float | None, float | None]]:
    """SQLite: the values sorted by group then value, as the driver's tuples (no Row
    object each: a 90-day report reads some 150,000); each group is a run found by
    bisection, and the total's values are the runs merged (timsort takes runs whole)."""
    if req.group is None:
        result = await conn.execute(select(value).where(*where).order_by(value))
        values = [r[0] for r in result.cursor.fetchall()]
        return {"": (quantile(values, 0.5), quantile(values, 0.9))} if values else {}
    g = func.coalesce(_group(req), "")
    result = await conn.execute(select(g, value).where(*where).order_by(g, value))
    rows = result.cursor.fetchall()
    out: dict[str, tuple[float | None, float | None]] = {}
    start = 0
    while start < len(rows):
        name = rows[start][0]
        end = bisect_right(rows, (name, inf), lo=start)
        if name != "":  # events without the dimension count only in the total
            run = [r[1] for r in rows[start:end]]
            out[str(name)] = (quantile(run, 0.5), quantile(run, 0.9))
        start = end
    values = sorted(r[1] for r in rows)
    if values:
        out[""] = (quantile(values, 0.5), quantile(values, 0.9))
    return out
