"""Tickets: threading onto the open one, or opening a new one."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.messages import Address
from hub.store import Store
from hub.store.many import Many
from hub.store.schema import tickets
from hub.tickets.routing import RouteDecision
from hub.tickets.status_events import emit_status_change

OPEN_STATUSES = ("new", "open", "pending")
STATUSES = (*OPEN_STATUSES, "solved", "closed")


def ticket_ref(ticket_id: int) -> str:
    return f"T-{ticket_id}"


def open_key(customer_id: int, channel: str) -> str:
    return f"{customer_id}:{channel}"


def conversation_of(address: Address) -> str:
    """How a ticket stores the shared conversation it is (tickets.conversation)."""
    return f"{address.kind}:{address.value}"


def conversation_address(stored: str) -> Address:
    kind, _, value = stored.partition(":")
    return Address(kind, value)


def conversation_key(connector_id: str, conversation: str) -> str:
    """The open key of a shared conversation's ticket: one open ticket per conversation
    and connector (two bots in one group are two conversations), whoever writes in it.
    The '~' keeps it apart from customer keys, which start with a digit."""
    key = f"~{connector_id}:{conversation}"
    # The column holds 80 characters; a long id is hashed (still unique in practice).
    return key if len(key) <= 80 else "~#" + hashlib.sha256(key.encode()).hexdigest()


def ticket_key(customer_id: int, channel: str, connector_id: str, conversation: str | None) -> str:
    """The open key of a ticket: its conversation's if it has one, else its customer's."""
    if conversation is not None:
        return conversation_key(connector_id, conversation)
    return open_key(customer_id, channel)


@dataclass(frozen=True)
class Ticket:
    id: int
    team_id: str
    subject: str | None
    created_at: datetime
    # A solved ticket the customer's new message opened again (touch_ticket).
    reopened: bool = False

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
    # A shared conversation (conversation_of), threaded as one ticket whoever writes.
    conversation: str | None = None

    @property
    def key(self) -> str:
        return ticket_key(self.customer_id, self.channel, self.connector_id, self.conversation)


# Statements every ingest batch runs, built once per store (Store.statement).


def _open_tickets_query(store: Store) -> Any:
    return select(
        tickets.c.id, tickets.c.team_id, tickets.c.subject, tickets.c.created_at, tickets.c.open_key
    ).where(tickets.c.open_key.in_(bindparam("keys", expanding=True)))


def _insert_tickets(store: Store) -> Many:
    return Many(
        store.insert(tickets)
        .on_conflict_do_nothing(index_elements=["open_key"])
        .returning(tickets.c.id, tickets.c.open_key)
    )


def _touch_tickets(store: Store) -> Any:
    now = bindparam("now", type_=tickets.c.updated_at.type)
    return (
        update(tickets)
        .where(tickets.c.id.in_(bindparam("ids", expanding=True)))
        .values(last_message_at=now, updated_at=now)
    )


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
    # A conversation's ticket may be anyone's, so new customers do not rule it out.
    keys = sorted({r.key for r in requests if r.customer_id not in new_customers or r.conversation})
    found: dict[str, Ticket] = {}
    if keys:
        rows = await conn.execute(store.statement(_open_tickets_query), {"keys": keys})
        found = {r.open_key: Ticket(r.id, r.team_id, r.subject, r.created_at) for r in rows}
    opening: dict[str, TicketRequest] = {}
    touched: set[int] = set()
    plan: list[tuple[str, bool]] = []
    for req in requests:
        key = req.key
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
        result = await store.statement(_insert_tickets).run(
            conn, [_new_row(req, key, now) for key, req in opening.items()]
        )
        ids = {r.open_key: r.id for r in result}
        if len(ids) < len(opening):
            raise TicketRace("a ticket was opened by another process meanwhile")
        for key, req in opening.items():
            found[key] = Ticket(ids[key], req.route.team, req.subject, now)
    if touched:
        await conn.execute(store.statement(_touch_tickets), {"ids": sorted(touched), "now": now})
    return [(found[key], opened) for key, opened in plan]


async def open_ticket(
    store: Store, conn: AsyncConnection, req: TicketRequest, now: datetime
) -> Ticket:
    """A new ticket outside the one-open-per-channel rule: each email topic is its own."""
    ticket_id = (
        await conn.execute(
            tickets.insert().values(**_new_row(req, None, now)).returning(tickets.c.id)
        )
    ).scalar_one()
    return Ticket(ticket_id, req.route.team, req.subject, now)


async def open_tickets(
    store: Store, conn: AsyncConnection, requests: Sequence[TicketRequest], now: datetime
) -> list[Ticket]:
    """`open_ticket` for many at once; the tickets in request order.

    Neither dialect promises RETURNING rows in VALUES order, so each row carries a unique
    throwaway `open_key` to be told apart by, cleared again in the same transaction (two
    statements, where asking SQLAlchemy for the order costs one INSERT per row on SQLite).
    """
    if not requests:
        return []
    tag = f"opening:{uuid.uuid4().hex}:"
    rows = await conn.execute(
        tickets.insert().returning(tickets.c.id, tickets.c.open_key),
        [_new_row(req, f"{tag}{i}", now) for i, req in enumerate(requests)],
    )
    ids = {r.open_key: r.id for r in rows}
    await conn.execute(
        update(tickets).where(tickets.c.id.in_(sorted(ids.values()))).values(open_key=None)
    )
    return [Ticket(ids[f"{tag}{i}"], r.route.team, r.subject, now) for i, r in enumerate(requests)]


async def touch_ticket(conn: AsyncConnection, ticket_id: int, now: datetime) -> Ticket:
    """A new message on a ticket: a solved one opens again, since the customer answered."""
    before = (
        await conn.execute(
            select(tickets.c.status, tickets.c.customer_id).where(tickets.c.id == ticket_id)
        )
    ).one()
    row = (
        await conn.execute(
            update(tickets)
            .where(tickets.c.id == ticket_id)
            .values(
                last_message_at=now,
                updated_at=now,
                status=case(
                    (tickets.c.status.in_(("solved", "pending")), "open"), else_=tickets.c.status
                ),
            )
            .returning(tickets.c.id, tickets.c.team_id, tickets.c.subject, tickets.c.created_at)
        )
    ).one()
    if before.status in ("solved", "pending"):
        await emit_status_change(conn, ticket_id, before.customer_id, (before.status, "open"), now)
    return Ticket(
        row.id, row.team_id, row.subject, row.created_at, reopened=before.status == "solved"
    )


async def close_open_ticket(conn: AsyncConnection, key: str, now: datetime) -> Ticket | None:
    """Close the open ticket under `key` (the customer ended the chat); None if there is none."""
    row = (
        await conn.execute(
            select(
                tickets.c.id,
                tickets.c.team_id,
                tickets.c.subject,
                tickets.c.created_at,
                tickets.c.status,
                tickets.c.customer_id,
            ).where(tickets.c.open_key == key)
        )
    ).first()
    if row is None:
        return None
    await conn.execute(
        update(tickets)
        .where(tickets.c.id == row.id)
        .values(status="closed", open_key=None, updated_at=now, last_message_at=now)
    )
    await emit_status_change(conn, row.id, row.customer_id, (row.status, "closed"), now)
    return Ticket(row.id, row.team_id, row.subject, row.created_at)


def _new_row(req: TicketRequest, key: str | None, now: datetime) -> dict[str, Any]:
    """The row of a ticket opened for `req` (`key`: its open key, None for one of many)."""
    return {
        "customer_id": req.customer_id,
        "channel": req.channel,
        "connector_id": req.connector_id,
        "team_id": req.route.team,
        "status": "new",
        "priority": req.route.priority,
        "subject": req.subject,
        "tags": list(req.route.tags),
        "open_key": key,
        "conversation": req.conversation,
        "route_rule": req.route.rule,
        "created_at": now,
        "updated_at": now,
        "last_message_at": now,
    }
