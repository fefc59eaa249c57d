"""A ticket's SLA as agents read it: each clock with its deadline and outcome, and the
timeline of what happened to them (policy applied or re-evaluated, paused, warned...)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.sla.deadline import label
from hub.store.schema import sla_events, sla_targets

# A long-lived ticket's timeline shown at most this long (newest kept).
MAX_EVENTS = 200


@dataclass(frozen=True)
class ClockView:
    kind: str
    cycle: int
    label: str
    policy: str
    calendar: str
    status: str  # pending | achieved | breached | cancelled
    started_at: datetime
    due_at: datetime | None
    paused: bool
    achieved_at: datetime | None
    breached_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(vars(self))
        for k, v in out.items():
            if isinstance(v, datetime):
                out[k] = v.isoformat()
        return out


@dataclass(frozen=True)
class EventView:
    at: datetime
    what: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "what": self.what, "detail": self.detail}


@dataclass(frozen=True)
class TicketSla:
    clocks: list[ClockView]
    timeline: list[EventView]

    def to_json(self) -> dict[str, Any]:
        return {
            "clocks": [c.to_json() for c in self.clocks],
            "timeline": [e.to_json() for e in self.timeline],
        }


async def ticket_sla(conn: AsyncConnection, ticket_id: int) -> TicketSla:
    t = sla_targets.c
    clocks = [
        ClockView(
            kind=r.kind,
            cycle=r.cycle,
            label=label(r.kind, r.cycle),
            policy=r.policy,
            calendar=r.calendar,
            status=r.status,
            started_at=r.started_at,
            due_at=r.due_at,
            paused=r.status == "pending" and r.running_since is None,
            achieved_at=r.achieved_at,
            breached_at=r.breached_at,
        )
        for r in await conn.execute(
            select(sla_targets).where(t.ticket_id == ticket_id).order_by(t.started_at, t.id)
        )
    ]
    e = sla_events.c
    newest = (
        await conn.execute(
            select(e.at, e.what, e.detail)
            .where(e.ticket_id == ticket_id)
            .order_by(e.id.desc())
            .limit(MAX_EVENTS)
        )
    ).all()
    return TicketSla(clocks, [EventView(r.at, r.what, r.detail) for r in reversed(newest)])
