"""Reading the daily rollup (metric_daily): per-kind sums by group, by day, and the backlog,
for requests it can answer exactly: days of the reporting zone, day or longer buckets, a
group or filter on one dimension besides the team. A range's sums are read off the
whole months and the days left (hub.events.spans), one SELECT per span under a UNION
ALL, as the histogram's are."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, func, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.metrics import ROLLUP_SUMS, TICKET_OPENED, TICKET_REOPENED, TICKET_SOLVED
from hub.events.spans import DAY, MONTH, ROLLUP_SPANS, cover, month_start
from hub.reports.figures import KindSums, Sums, merge
from hub.reports.request import ReportRequest
from hub.store.schema import metric_daily

_SUMS = tuple(metric_daily.c[name] for name in ROLLUP_SUMS)


def rollup_serves(req: ReportRequest, report_zone: str) -> bool:
    """Whether the rollup answers `req` exactly (its days are the request's days)."""
    if req.zone.key != report_zone or req.bucket == "hour":
        return False
    others = [k for k in req.filters if k != "team"]
    if not others:
        return True
    # One filter on a dimension: its rows, when nothing else is grouped by.
    return len(others) == 1 and req.group in (None, "team")


def _selection(
    req: ReportRequest, table: Table = metric_daily
) -> tuple[list[ColumnElement[bool]], ColumnElement[Any]]:
    """The rows of the request's team scope and dimension, and its group column, in the
    rollup (or the histogram: the same keys)."""
    d = table.c
    where: list[ColumnElement[bool]] = []
    team = req.filters.get("team")
    teams = {team} if team is not None else req.teams
    if teams is not None:
        where.append(d.team_id.in_(sorted(teams)))
    elif req.group == "team":
        where.append(d.team_id != "")
    else:
        where.append(d.team_id == "")
    others = [(k, v) for k, v in req.filters.items() if k != "team"]
    if req.group not in (None, "team"):
        where.append(d.dim == req.group)
        group: ColumnElement[Any] = d.member
    else:
        if others:
            where += [d.dim == others[0][0], d.member == others[0][1]]
        else:
            where.append(d.dim == "all")
        # A constant: selected, never grouped by (PostgreSQL refuses GROUP BY '').
        group = d.team_id if req.group == "team" else literal_column("''")
    return where, group


def _by(req: ReportRequest, g: ColumnElement[Any], *more: Any) -> list[Any]:
    return [g, *more] if req.group is not None else list(more)


def _days(req: ReportRequest) -> tuple[date, date]:
    return req.local_start_date(), req.local_end_date()


def _spanned(first: date, end: date) -> list[ColumnElement[bool]]:
    """The rows of the days first..end (exclusive): one condition per span that has any."""
    d = metric_daily.c
    spans = cover(first, end, ROLLUP_SPANS)
    return [and_(d.span == s, d.day.in_(days)) for s, days in spans.items() if days]


async def _union(conn: AsyncConnection, parts: list[Select[Any]]) -> list[Any]:
    if not parts:
        return []
    return list(await conn.execute(union_all(*parts)))


async def rollup_sums(conn: AsyncConnection, req: ReportRequest) -> dict[str, KindSums]:
    """group -> kind -> sums over the request's days ('' is the group of everything)."""
    where, group = _selection(req)
    first, end = _days(req)
    columns = (group.label("g"), metric_daily.c.kind, *(func.sum(c) for c in _SUMS))
    by = _by(req, group, metric_daily.c.kind)
    parts = [select(*columns).where(s, *where).group_by(*by) for s in _spanned(first, end)]
    out: dict[str, KindSums] = {}
    for r in await _union(conn, parts):
        merge(out.setdefault(str(r[0]), {}), [(r[1], r[2:])])
    return out


async def rollup_by_day(
    conn: AsyncConnection, req: ReportRequest, kinds: Sequence[str]
) -> dict[date, KindSums]:
    """day -> kind -> sums, every group together: a time series by day or longer."""
    where, _ = _selection(req)
    first, end = _days(req)
    rows = await conn.execute(
        select(metric_daily.c.day, metric_daily.c.kind, *(func.sum(c) for c in _SUMS))
        .where(
            metric_daily.c.span == DAY,
            metric_daily.c.day >= first,
            metric_daily.c.day < end,
            metric_daily.c.kind.in_(kinds),
            *where,
        )
        .group_by(metric_daily.c.day, metric_daily.c.kind)
    )
    out: dict[date, KindSums] = {}
    for r in rows:
        out.setdefault(r[0], {}).setdefault(r[1], Sums()).add(r[2:])
    return out


async def rollup_backlog(conn: AsyncConnection, req: ReportRequest) -> dict[str, int]:
    """group -> tickets open at the request's end: opened - solved + reopened, all time
    (every month before the end's, then the days of its own)."""
    where, group = _selection(req)
    _, end = _days(req)
    d = metric_daily.c
    this_month = month_start(end)
    kinds = (TICKET_OPENED, TICKET_SOLVED, TICKET_REOPENED)
    spans = [and_(d.span == MONTH, d.day < this_month), *_spanned(this_month, end)]
    parts = [
        select(group.label("g"), d.kind, func.sum(d.n))
        .where(s, d.kind.in_(kinds), *where)
        .group_by(*_by(req, group, d.kind))
        for s in spans
    ]
    out: dict[str, int] = {}
    for g, kind, n in await _union(conn, parts):
        sign = -1 if kind == TICKET_SOLVED else 1
        out[str(g)] = out.get(str(g), 0) + sign * int(n or 0)
    return out
