"""SLA outcomes as metric events, for the reports' "SLA achieved %" by team, channel, agent,
tag and priority: a target met on time counts as achieved, a missed one as breached, once
each; a reopened ticket takes its resolution's "achieved" back (weight -1) until it is met
or missed again. Recorded in the transaction that decides the outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.metrics import SLA_ACHIEVED, SLA_BREACHED, record, ticket_event
from hub.store.schema import tickets

ACHIEVED, BREACHED, TAKEN_BACK = "achieved", "breached", "taken_back"


@dataclass(frozen=True)
class Outcome:
    ticket_id: int
    what: str  # achieved | breached | taken_back (an achieved resolution reopened)
    at: datetime


async def record_outcomes(conn: AsyncConnection, outcomes: Sequence[Outcome], zone: tzinfo) -> None:
    if not outcomes:
        return
    ids = sorted({o.ticket_id for o in outcomes})
    rows = {
        r.id: r
        for r in await conn.execute(
            select(
                tickets.c.id,
                tickets.c.customer_id,
                tickets.c.team_id,
                tickets.c.channel,
                tickets.c.assignee,
                tickets.c.priority,
                tickets.c.tags,
            ).where(tickets.c.id.in_(ids))
        )
    }
    events = []
    for o in outcomes:
        t = rows.get(o.ticket_id)
        if t is None:
            continue
        events.append(
            ticket_event(
                t,
                SLA_BREACHED if o.what == BREACHED else SLA_ACHIEVED,
                o.at,
                # Credited to whoever held the ticket when it was decided.
                agent=t.assignee,
                weight=-1 if o.what == TAKEN_BACK else 1,
            )
        )
    await record(conn, events, zone)
