"""Tickets: threading onto the open one, or opening a new one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.routing import RouteDecision
from hub.store import Store
from hub.store.schema import tickets

OPEN_STATUSES = ("new", "open", "pending")
STATUSES = (*OPEN_STATUSES, "solved", "closed")


def ticket_ref(ticket_id: int) -> str:
    return f"T-{ticket_id}"


def open_key(customer_id: int, channel: str) -> str:
    return f"{customer_id}:{channel}"


@dataclass(frozen=True)
class Ticket:
    id: int
    team_id: str
    subject: str | None
    created_at: datetime

    @property
    def ref(self) -> str:
        return ticket_ref(self.id)


async def find_or_open_ticket(
    store: Store,
    conn: AsyncConnection,
    *,
    customer_id: int,
    channel: str,
    connector_id: str,
    subject: str | None,
    route: RouteDecision,
    now: datetime,
) -> tuple[Ticket, bool]:
    """The customer's open ticket on this channel, or a new one routed by `route`."""
    key = open_key(customer_id, channel)
    existing = await _by_open_key(conn, key)
    if existing is not None:
        await conn.execute(
            update(tickets)
            .where(tickets.c.id == existing.id)
            .values(last_message_at=now, updated_at=now)
        )
        return existing, False
    row = (
        await conn.execute(
            store.insert(tickets)
            .values(
                customer_id=customer_id,
                channel=channel,
                connector_id=connector_id,
                team_id=route.team,
                status="new",
                priority=route.priority,
                subject=subject,
                tags=list(route.tags),
                open_key=key,
                created_at=now,
                updated_at=now,
                last_message_at=now,
            )
            .on_conflict_do_nothing(index_elements=["open_key"])
            .returning(tickets.c.id)
        )
    ).first()
    if row is None:  # another process opened it a moment ago
        raced = await _by_open_key(conn, key)
        assert raced is not None
        return raced, False
    return Ticket(row.id, route.team, subject, now), True


async def _by_open_key(conn: AsyncConnection, key: str) -> Ticket | None:
    row = (
        await conn.execute(
            select(tickets.c.id, tickets.c.team_id, tickets.c.subject, tickets.c.created_at).where(
                tickets.c.open_key == key
            )
        )
    ).first()
    return Ticket(row.id, row.team_id, row.subject, row.created_at) if row else None
