"""Reading the kinds kept as counts (metric_counts: messages in and out) where the rollup
cannot answer: sums per group, and per UTC quarter hour for buckets in any zone. A range
from one local midnight to another holds whole quarter hours, so these are exact."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.counts import first_slot_from
from hub.events.metrics import COUNTED
from hub.reports.event_read import expand, scope
from hub.reports.figures import KindSums, Sums
from hub.reports.request import ReportRequest
from hub.store.schema import metric_counts

c = metric_counts.c
_COLUMNS = {
    "team": c.team_id,
    "channel": c.channel,
    "agent": c.agent,
    "priority": c.priority,
    "tag": c.tags,
}


def _conditions(req: ReportRequest, kinds: Sequence[str]) -> list[ColumnElement[bool]]:
    return [
        c.kind.in_(kinds),
        c.slot >= first_slot_from(req.start),
        c.slot < first_slot_from(req.end),
        *scope(req, _COLUMNS, c.tags),
    ]


def _sums(n: Any) -> tuple[Any, ...]:
    # A count's sums as an event's (hub.reports.figures.Sums): no durations, no values.
    return (n, 0, 0.0, 0, 0.0, 0, 0)


async def count_sums(conn: AsyncConnection, req: ReportRequest) -> dict[str, KindSums]:
    """group -> kind -> sums of the counted kinds over the request's range."""
    if req.group is None:
        g: ColumnElement[Any] = literal_column("''")
        stmt = select(g, c.kind, func.sum(c.n)).group_by(c.kind)
    else:
        g = _COLUMNS[req.group]
        stmt = select(g, c.kind, func.sum(c.n)).group_by(g, c.kind)
    out: dict[str, KindSums] = {}
    for g_value, kind, n in await conn.execute(stmt.where(*_conditions(req, list(COUNTED)))):
        for name in expand(req, g_value):
            out.setdefault(name, {}).setdefault(kind, Sums()).add(_sums(n))
    return out


async def count_slots(
    conn: AsyncConnection, req: ReportRequest, kinds: Sequence[str]
) -> dict[int, KindSums]:
    """quarter hour -> kind -> sums of those of `kinds` kept as counts, every group
    together."""
    counted = [k for k in kinds if k in COUNTED]
    if not counted:
        return {}
    rows = await conn.execute(
        select(c.slot, c.kind, func.sum(c.n))
        .where(*_conditions(req, counted))
        .group_by(c.slot, c.kind)
    )
    out: dict[int, KindSums] = {}
    for slot, kind, n in rows:
        out.setdefault(int(slot), {}).setdefault(kind, Sums()).add(_sums(n))
    return out
