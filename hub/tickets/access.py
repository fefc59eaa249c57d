"""Which tickets an agent may see and change: those of their teams (admins: all)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.agents.accounts import Actor
from hub.store.schema import tickets


class TicketNotFound(LookupError):
    pass


class NotAllowed(PermissionError):
    """The actor may not see or change this ticket (another team's)."""


async def ticket_for(conn: AsyncConnection, actor: Actor, ticket_id: int) -> Any:
    row = (await conn.execute(select(tickets).where(tickets.c.id == ticket_id))).first()
    if row is None:
        raise TicketNotFound(ticket_id)
    if not actor.can_see_team(row.team_id):
        raise NotAllowed(ticket_id)
    return row
