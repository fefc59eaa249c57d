"""The rows of SLA clocks as hub.sla.clocks reads and writes them: a ticket's targets, the
SLA timeline, and tickets.sla_due_at kept at the nearest deadline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.schema import sla_events, sla_targets, tickets

_T = sla_targets.c
# Targets whose deadline still matters: not met yet (a breached one until it is met).
OPEN_TARGET = and_(_T.status.in_(("pending", "breached")), _T.achieved_at.is_(None))


STOPPED: dict[str, Any] = {
    "running_since": None,
    "due_at": None,
    "warn_at": None,
    "breach_notify_at": None,
}


def answered_once(rows: Sequence[Any]) -> bool:
    """A human reply was given: the first response is met (late or not), or cycles ran."""
    first = [r for r in rows if r.kind == "first_response"]
    if first:
        return first[0].achieved_at is not None
    return any(r.kind == "next_response" for r in rows)


async def targets_of(conn: AsyncConnection, ticket_ids: Sequence[int]) -> dict[int, list[Any]]:
    rows = await conn.execute(
        select(sla_targets, tickets.c.team_id, tickets.c.status.label("ticket_status"))
        .join(tickets, tickets.c.id == _T.ticket_id)
        .where(_T.ticket_id.in_(sorted(set(ticket_ids))))
        .order_by(_T.ticket_id, _T.id)
    )
    out: dict[int, list[Any]] = {}
    for r in rows:
        out.setdefault(r.ticket_id, []).append(r)
    return out


async def log_events(
    conn: AsyncConnection, entries: Sequence[tuple[int, str, str]], now: datetime
) -> None:
    if entries:
        await conn.execute(
            sla_events.insert(),
            [{"ticket_id": t, "at": now, "what": w, "detail": d[:300]} for t, w, d in entries],
        )


async def refresh_due(conn: AsyncConnection, ticket_ids: Sequence[int]) -> None:
    """tickets.sla_due_at: the nearest deadline not met yet (a breached one included, so
    "due first" puts overdue tickets on top); NULL without one.

    Read by ticket id alone and reduced here: a correlated MIN with the status condition
    in SQL lets SQLite's planner pick the (status, due_at) index and scan every pending
    clock once per ticket."""
    if not ticket_ids:
        return
    ids = sorted(set(ticket_ids))
    nearest: dict[int, datetime | None] = dict.fromkeys(ids)
    rows = await conn.execute(
        select(_T.ticket_id, _T.due_at, _T.status, _T.achieved_at).where(_T.ticket_id.in_(ids))
    )
    for r in rows:
        if r.due_at is None or r.achieved_at is not None or r.status not in _COUNTED:
            continue
        seen = nearest[r.ticket_id]
        if seen is None or r.due_at < seen:
            nearest[r.ticket_id] = r.due_at
    await conn.execute(_SET_DUE, [{"ticket": t, "due": d} for t, d in nearest.items()])


_COUNTED = ("pending", "breached")
_SET_DUE = (
    update(tickets)
    .where(tickets.c.id == bindparam("ticket"))
    .values(sla_due_at=bindparam("due", type_=tickets.c.sla_due_at.type))
)
