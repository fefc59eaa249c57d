"""Reading the events (metric_events): per-kind sums where the rollup cannot answer (another
zone's days, hours, several filters), medians and p90s, distinct solved tickets, and sums
per UTC quarter hour for buckets in any zone. Every query reads one kind (or a few) over a
range of time through the (kind, occurred_at, ...) index."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
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


def _like_tag(tag: str) -> ColumnElement[bool]:
    # Tags are a JSON list; the quoted tag inside its text, with LIKE's wildcards escaped.
    quoted = json.dumps(tag).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(e.tags, Text).like(f"%{quoted}%", escape="\\")


def conditions(req: ReportRequest, start: datetime | None = None) -> list[ColumnElement[bool]]:
    """The request's range (from `start` if given; None: from the beginning) and scope."""
    where: list[ColumnElement[bool]] = [e.occurred_at < req.end]
    if start is not None:
        where.append(e.occurred_at >= start)
    if req.teams is not None:
        where.append(e.team_id.in_(sorted(req.teams)))
    for key, value in req.filters.items():
        where.append(_like_tag(value) if key == "tag" else _COLUMNS[key] == value)
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
    positive = case(
        ((e.kind == SURVEY_ANSWERED) & (e.value >= POSITIVE_RATING), 1),
        else_=0,
    )
    return [
        func.count(),
        func.count(e.seconds),
        func.coalesce(func.sum(e.seconds), 0.0),
        func.count(e.business_seconds),
        func.coalesce(func.sum(e.business_seconds), 0.0),
        func.coalesce(func.sum(e.value), 0),
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
        select(g.label("g"), e.kind, func.count())
        .where(e.kind.in_(kinds), *conditions(req))
        .group_by(*_by(req, g, e.kind))
    )
    out: dict[str, int] = {}
    for g_value, kind, n in rows:
        for name in _expand(req, g_value):
            out[name] = out.get(name, 0) + (-n if kind == TICKET_SOLVED else n)
    return out


async def solved_tickets(conn: AsyncConnection, req: ReportRequest) -> dict[str, int]:
    """group -> distinct tickets solved in the range."""
    g = _group(req)
    if req.group == "tag":
        rows = await conn.execute(
            select(g, e.ticket_id)
            .where(e.kind == TICKET_SOLVED, *conditions(req, req.start))
            .distinct()
        )
        seen: dict[str, set[int]] = {}
        for g_value, ticket in rows:
            for name in _expand(req, g_value):
                seen.setdefault(name, set()).add(ticket)
        return {k: len(v) for k, v in seen.items()}
    rows = await conn.execute(
        select(g.label("g"), func.count(e.ticket_id.distinct()))
        .where(e.kind == TICKET_SOLVED, *conditions(req, req.start))
        .group_by(*_by(req, g))
    )
    return {name: int(n) for g_value, n in rows for name in _expand(req, g_value)}


Quantiles = dict[str, dict[str, tuple[float | None, float | None]]]


async def quantiles(conn: AsyncConnection, req: ReportRequest) -> Quantiles:
    """duration -> group -> (median, p90). The database sorts each group's values and
    hands back only the ranks around the median and p90 (tags: sorted here)."""
    out: Quantiles = {}
    value = e.business_seconds if req.basis == "business" else e.seconds
    for name, kind in DURATIONS.items():
        where = [e.kind == kind, value.is_not(None), *conditions(req, req.start)]
        if req.group == "tag":
            out[name] = await _quantiles_here(conn, req, value, where)
        else:
            g = _group(req) if req.group is not None else None
            out[name] = await _quantiles_in_sql(conn, g, value, where)
    return out


async def _quantiles_in_sql(
    conn: AsyncConnection, g: ColumnElement[Any] | None, value: Any, where: list[Any]
) -> dict[str, tuple[float | None, float | None]]:
    part = {"partition_by": g} if g is not None else {}
    ranked = (
        select(
            (g if g is not None else literal_column("''")).label("g"),
            value.label("v"),
            (func.row_number().over(order_by=value, **part) - 1).label("rn"),
            func.count().over(**part).label("cnt"),
        )
        .where(*where)
        .subquery()
    )
    mid, p90 = (ranked.c.cnt - 1) // 2, (ranked.c.cnt - 1) * 9 // 10
    rows = await conn.execute(
        select(ranked.c.g, ranked.c.v, ranked.c.rn, ranked.c.cnt).where(
            (ranked.c.rn == mid) | (ranked.c.rn == mid + 1)
            | (ranked.c.rn == p90) | (ranked.c.rn == p90 + 1)
        )
    )  # fmt: skip
    ranks: dict[str, tuple[int, dict[int, float]]] = {}
    for g_value, v, rn, cnt in rows:
        if g_value is None:
            continue
        ranks.setdefault(str(g_value), (int(cnt), {}))[1][int(rn)] = float(v)
    return {name: (_at(n, got, 0.5), _at(n, got, 0.9)) for name, (n, got) in ranks.items()}


def _at(n: int, got: dict[int, float], p: float) -> float | None:
    h = (n - 1) * p
    lo = int(h)
    hi = min(lo + 1, n - 1)
    if lo not in got:
        return None
    return got[lo] + (h - lo) * (got.get(hi, got[lo]) - got[lo])


async def _quantiles_here(
    conn: AsyncConnection, req: ReportRequest, value: Any, where: list[Any]
) -> dict[str, tuple[float | None, float | None]]:
    values: dict[str, list[float]] = {}
    for g_value, v in await conn.execute(select(cast(e.tags, Text), value).where(*where)):
        for name in _expand(req, g_value):
            values.setdefault(name, []).append(float(v))
    out = {}
    for name, vs in values.items():
        vs.sort()
        out[name] = (quantile(vs, 0.5), quantile(vs, 0.9))
    return out
