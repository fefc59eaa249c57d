"""Tickets: threading onto the open one, or opening a new one."""

from __future__ import annotations

from collections.abc import Sequence, Set
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


class TicketRace(Exception):
    """Another hub process opened a ticket this batch meant to open."""


@dataclass(frozen=True)
class TicketRequest:
    customer_id: int
    channel: str
    connector_id: str
    subject: str | None
    route: RouteDecision


async def find_or_open_tickets(
    store: Store,
    conn: AsyncConnection,
    requests: Sequence[TicketRequest],
    now: datetime,
    new_customers: Set[int] = frozenset(),
) -> list[tuple[Ticket, bool]]:
    """`find_or_open_ticket` for many messages at once, as if one after the other: a later
    message threads onto the ticket an earlier one opened. Raises TicketRace where one at
    a time would have found a ticket another process opened meanwhile (the caller rolls
    back and goes one at a time).

    `new_customers` were created in this transaction: nobody else can see them yet, so
    they have no tickets to look up.
    """
    keys = sorted(
        {open_key(r.customer_id, r.channel) for r in requests if r.customer_id not in new_customers}
    )
    found: dict[str, Ticket] = {}
    if keys:
        rows = await conn.execute(
            select(
                tickets.c.id,
                tickets.c.team_id,
                tickets.c.subject,
                tickets.c.created_at,
                tickets.c.open_key,
            ).where(tickets.c.open_key.in_(keys))
        )
        found = {r.open_key: Ticket(r.id, r.team_id, r.subject, r.created_at) for r in rows}
    opening: dict[str, TicketRequest] = {}
    touched: set[int] = set()
    plan: list[tuple[str, bool]] = []
    for req in requests:
        key = open_key(req.customer_id, req.channel)
        if key in found:
            touched.add(found[key].id)
            plan.append((key, False))
        elif key in opening:
            # Threads onto the ticket opened just above; its times are already `now`.
            plan.append((key, False))
        else:
            opening[key] = req
            plan.append((key, True))

    if opening:
        result = await conn.execute(
            store.insert(tickets)
            .on_conflict_do_nothing(index_elements=["open_key"])
            .returning(tickets.c.id, tickets.c.open_key),
            [
                {
                    "customer_id": req.customer_id,
                    "channel": req.channel,
                    "connector_id": req.connector_id,
                    "team_id": req.route.team,
                    "status": "new",
                    "priority": req.route.priority,
                    "subject": req.subject,
                    "tags": list(req.route.tags),
                    "open_key": key,
                    "created_at": now,
                    "updated_at": now,
                    "last_message_at": now,
                }
                for key, req in opening.items()
            ],
        )
        ids = {r.open_key: r.id for r in result}
        if len(ids) < len(opening):
            raise TicketRace("a ticket was opened by another process meanwhile")
        for key, req in opening.items():
            found[key] = Ticket(ids[key], req.route.team, req.subject, now)
    if touched:
        await conn.execute(
            update(tickets)
            .where(tickets.c.id.in_(sorted(touched)))
            .values(last_message_at=now, updated_at=now)
        )
    return [(found[key], opened) for key, opened in plan]


async def load_ticket(conn: AsyncConnection, ticket_id: int) -> Ticket:
    row = (
        await conn.execute(
            select(tickets.c.id, tickets.c.team_id, tickets.c.subject, tickets.c.created_at).where(
                tickets.c.id == ticket_id
            )
        )
    ).one()
    return Ticket(row.id, row.team_id, row.subject, row.created_at)


async def open_ticket(
    store: Store, conn: AsyncConnection, req: TicketRequest, now: datetime
) -> Ticket:
    """A new ticket outside the one-open-per-channel rule: each email topic is its own."""
    ticket_id = (
        await conn.execute(
            tickets.insert()
            .values(
                customer_id=req.customer_id,
                channel=req.channel,
                connector_id=req.connector_id,
                team_id=req.route.team,
                status="new",
                priority=req.route.priority,
                subject=req.subject,
                tags=list(req.route.tags),
                open_key=None,
                created_at=now,
                updated_at=now,
                last_message_at=now,
            )
            .returning(tickets.c.id)
        )
    ).scalar_one()
    return Ticket(ticket_id, req.route.team, req.subject, now)


async def touch_ticket(conn: AsyncConnection, ticket_id: int, now: datetime) -> None:
    """A new message on a ticket: a solved one opens again, since the customer answered."""
    await conn.execute(
        update(tickets).where(tickets.c.id == ticket_id).values(last_message_at=now, updated_at=now)
    )
    await conn.execute(
        update(tickets)
        .where(tickets.c.id == ticket_id, tickets.c.status.in_(("solved", "pending")))
        .values(status="open")
    )


async def close_open_ticket(conn: AsyncConnection, key: str, now: datetime) -> Ticket | None:
    """Close the open ticket under `key` (the customer ended the chat); None if there is none."""
    row = (
        await conn.execute(
            select(tickets.c.id, tickets.c.team_id, tickets.c.subject, tickets.c.created_at).where(
                tickets.c.open_key == key
            )
        )
    ).first()
    if row is None:
        return None
    await conn.execute(
        update(tickets)
        .where(tickets.c.id == row.id)
        .values(status="closed", open_key=None, updated_at=now, last_message_at=now)
    )
    return Ticket(row.id, row.team_id, row.subject, row.created_at)
