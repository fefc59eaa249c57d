"""The metric events of one ingest batch, recorded in its transaction: each message in,
tickets opened (and reopened by a customer's answer, or closed by the chat's /end), what
the hub answered (acknowledgements, the bot: outgoing messages, never responses), FAQ
answers and the bot's hand-overs."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.actions.measure import StatusChange, status_events
from hub.events.metrics import (
    BOT_HANDOVER,
    FAQ_ANSWERED,
    MESSAGE_IN,
    MESSAGE_OUT,
    TICKET_OPENED,
    TICKET_REOPENED,
    MetricEvent,
)
from hub.ingest.arrival import Arrival
from hub.ingest.setup import IngestSetup
from hub.store.schema import messages, tickets


async def record_metrics(
    setup: IngestSetup, conn: AsyncConnection, fresh: list[Arrival], now: datetime
) -> None:
    events: list[MetricEvent] = []
    for a in fresh:
        events.extend(_message_events(a, now))
        turn = a.turn
        if turn is None or a.ticket is None:
            continue
        if turn.action == "close":
            events.extend(await _closed(setup, conn, a.ticket.id, now))
        elif turn.action == "ticket" and a.opened:
            events.append(_event(a, BOT_HANDOVER, now, value=await _faq_answers(conn, a.ticket.id)))
    await setup.measure.record(conn, events)


def _event(a: Arrival, kind: str, now: datetime, value: int | None = None) -> MetricEvent:
    # A threaded message's priority and tags are those its routing gave: close enough
    # for counting messages, and reading the ticket would cost every batch a query.
    route, ticket = a.request.route, a.ticket
    return MetricEvent(
        kind=kind,
        occurred_at=now,
        ticket_id=ticket.id if ticket is not None else None,
        customer_id=a.customer.id,
        team=ticket.team_id if ticket is not None else route.team,
        channel=a.msg.channel,
        priority=route.priority,
        tags=tuple(route.tags),
        value=value,
    )


def _message_events(a: Arrival, now: datetime) -> list[MetricEvent]:
    out = [_event(a, MESSAGE_IN, now)]
    ticket = a.ticket
    if ticket is not None and a.opened:
        out.append(_event(a, TICKET_OPENED, now))
    if ticket is not None and ticket.reopened:
        out.append(_event(a, TICKET_REOPENED, now))
    for reply in (a.ack, a.bot_reply):
        if reply is not None:
            out.append(_event(a, MESSAGE_OUT, now))
    if a.bot_reply is not None and a.bot_reply.kind == "bot:faq":
        out.append(_event(a, FAQ_ANSWERED, now))
    return out


async def _closed(
    setup: IngestSetup, conn: AsyncConnection, ticket_id: int, now: datetime
) -> list[MetricEvent]:
    """The customer's /end solved the ticket: its resolution, credited to no agent. The
    ticket row is read as it was (open) for the measure; the close already happened."""
    row = (await conn.execute(select(tickets).where(tickets.c.id == ticket_id))).one()
    as_open = SimpleNamespace(**{**row._mapping, "status": "open"})
    return await status_events(conn, setup.measure, as_open, "closed", StatusChange(now))


async def _faq_answers(conn: AsyncConnection, ticket_id: int) -> int:
    """The FAQ answers the chat got before its hand-over (they joined the ticket)."""
    rows = await conn.execute(
        select(messages.c.meta).where(
            messages.c.ticket_id == ticket_id, messages.c.direction == "out"
        )
    )
    return sum(1 for (meta,) in rows if isinstance(meta, dict) and meta.get("kind") == "bot:faq")
