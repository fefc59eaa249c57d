"""The SLA clocks of a batch's tickets (hub.sla.clocks), in the batch's transaction:
tickets opened start theirs, a customer's message on an open ticket may start a
next-response cycle, and a ticket the message reopened (or the chat's /end closed)
moves its resolution clock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.ingest.arrival import Arrival
from hub.ingest.setup import IngestSetup
from hub.sla.clocks import Opened
from hub.sla.policy import TicketFacts


async def move_clocks(
    setup: IngestSetup, conn: AsyncConnection, fresh: list[Arrival], now: datetime
) -> None:
    clocks = setup.sla
    if not clocks.rules.enabled:
        return
    opened: list[Opened] = []
    wrote: list[int] = []
    closed: list[int] = []
    for a in fresh:
        if a.ticket is None:
            continue
        if a.opened:
            route = a.request.route
            facts = TicketFacts(
                a.msg.channel,
                a.msg.connector_id,
                route.team,
                route.priority,
                frozenset(route.tags),
                frozenset(a.customer.tags),
            )
            # Opened now: in a live chat that is the bot's hand-over, whatever was said
            # to the bot before; the human's clock starts here.
            opened.append(Opened(a.ticket.id, facts, a.ticket.created_at))
        elif a.turn is not None and a.turn.action == "close":
            closed.append(a.ticket.id)
        elif not a.msg.auto_submitted:
            # An auto-reply or a bounce waits for no answer.
            wrote.append(a.ticket.id)
    await clocks.opened(conn, opened, now)
    await clocks.status_changed(conn, closed + wrote, now)
    await clocks.customer_wrote(conn, wrote, now)
