"""A ticket's messages with their delivery state, and its notes, as the REST API lists them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.schema import messages, outbox, ticket_notes


@dataclass(frozen=True)
class TicketHistory:
    messages: list[Any]
    # Message id -> its outbox status, for messages the hub sent.
    delivery: dict[int, str]
    notes: list[Any]


async def ticket_history(conn: AsyncConnection, ticket_id: int) -> TicketHistory:
    msgs = (
        await conn.execute(
            select(messages)
            .where(messages.c.ticket_id == ticket_id)
            .order_by(messages.c.received_at, messages.c.id)
        )
    ).all()
    delivery = {
        r.message_id: r.status
        for r in await conn.execute(
            select(outbox.c.message_id, outbox.c.status).where(outbox.c.ticket_id == ticket_id)
        )
    }
    notes = (
        await conn.execute(
            select(ticket_notes)
            .where(ticket_notes.c.ticket_id == ticket_id)
            .order_by(ticket_notes.c.id)
        )
    ).all()
    return TicketHistory(msgs, delivery, notes)
