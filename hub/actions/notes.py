"""An agent adds an internal note to a ticket (never sent to the customer)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.agents.accounts import Actor
from hub.store import Store, utcnow
from hub.store.schema import ticket_notes, tickets
from hub.tickets.access import ticket_for


async def add_note(store: Store, actor: Actor, ticket_id: int, text: str) -> int:
    async with store.write() as conn:
        await ticket_for(conn, actor, ticket_id)
        now = utcnow()
        await conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(updated_at=now))
        return int(
            (
                await conn.execute(
                    ticket_notes.insert()
                    .values(
                        ticket_id=ticket_id,
                        agent_id=actor.agent_id,
                        author=actor.name,
                        body_text=text,
                        created_at=now,
                    )
                    .returning(ticket_notes.c.id)
                )
            ).scalar_one()
        )


async def system_note(conn: AsyncConnection, ticket_id: int, text: str, now: datetime) -> None:
    """A note the hub itself writes (why something did not happen), in the caller's
    transaction."""
    await conn.execute(
        ticket_notes.insert().values(
            ticket_id=ticket_id, agent_id=None, author="hub", body_text=text, created_at=now
        )
    )
