"""The assignment tables and the ticket columns a round reads and writes, under its locks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.assignment.policy import Waiting
from hub.config.assignment import language_of
from hub.events.outgoing import TICKET_ASSIGNED, OutgoingEvent, emit
from hub.store import Store
from hub.store.schema import (
    agents,
    assignment_pointers,
    customers,
    ticket_assignments,
    tickets,
)
from hub.tickets.records import OPEN_STATUSES, ticket_ref

# A round places at most this many waiting tickets per team; the rest wait for the next.
ROUND_LIMIT = 1000


class Busy(Exception):
    """Another transaction holds the team's assignment lock (a round without waiting)."""


async def lock_pointer(
    store: Store, conn: AsyncConnection, team_id: str, now: datetime, *, wait: bool
) -> str | None:
    """The team's round robin pointer, its row locked until the transaction ends: hub
    processes assigning the same team's tickets take turns (on SQLite, writes do anyway).

    Without `wait` (ingest, which already holds its new rows), raise Busy rather than
    queue behind another process: waiting there could close a cycle with a process
    waiting on those rows, and the periodic round places the tickets soon after.
    """
    if wait:
        # Made by the first waiting round (the periodic job's runs at start): an insert
        # would wait on another process's uncommitted insert of the same row.
        await conn.execute(
            store.insert(assignment_pointers)
            .values(team_id=team_id, last_agent=None, updated_at=now)
            .on_conflict_do_nothing(index_elements=["team_id"])
        )
    row = (
        await conn.execute(
            select(assignment_pointers.c.last_agent)
            .where(assignment_pointers.c.team_id == team_id)
            .with_for_update(skip_locked=not wait)
        )
    ).first()
    if row is None:
        raise Busy(team_id)
    return row.last_agent  # type: ignore[no-any-return]


async def lock_agents(conn: AsyncConnection, agent_ids: Sequence[int], *, wait: bool) -> set[int]:
    """Lock the agents' rows (in id order, so two rounds never wait on each other in a
    cycle): an agent in two teams is not filled past capacity by both teams' rounds.
    NO KEY UPDATE, so a log-in (a session row referencing the agent) is not held up.
    Returns the ids locked: without `wait`, those another round holds are left out."""
    if not agent_ids:
        return set()
    rows = await conn.execute(
        select(agents.c.id)
        .where(agents.c.id.in_(sorted(agent_ids)))
        .order_by(agents.c.id)
        .with_for_update(key_share=True, skip_locked=not wait)
    )
    return {i for (i,) in rows}


async def open_loads(conn: AsyncConnection, usernames: Sequence[str]) -> dict[str, int]:
    """Open tickets per agent, in every team: what counts against capacity."""
    if not usernames:
        return {}
    rows = await conn.execute(
        select(tickets.c.assignee, func.count())
        .where(tickets.c.assignee.in_(usernames), tickets.c.status.in_(OPEN_STATUSES))
        .group_by(tickets.c.assignee)
    )
    return {name: int(n) for name, n in rows}


def _waiting_query(team_id: str) -> Any:
    return (
        select(
            tickets.c.id,
            tickets.c.channel,
            tickets.c.created_at,
            tickets.c.sla_due_at,
            tickets.c.assignee,
            customers.c.locale,
        )
        .join(customers, customers.c.id == tickets.c.customer_id)
        .where(tickets.c.team_id == team_id, tickets.c.status.in_(OPEN_STATUSES))
        .order_by(tickets.c.sla_due_at.asc().nulls_last(), tickets.c.created_at, tickets.c.id)
        .limit(ROUND_LIMIT)
    )


async def waiting_tickets(
    conn: AsyncConnection, team_id: str, stale: Sequence[str]
) -> list[Waiting]:
    """The team's open tickets with no assignee, and those held by the `stale` agents:
    two queries, so each uses its index (ix_tickets_unassigned, ix_tickets_assignee_status)
    and a round does not read every open ticket of the team."""
    queries = [_waiting_query(team_id).where(tickets.c.assignee.is_(None))]
    if stale:
        queries.append(_waiting_query(team_id).where(tickets.c.assignee.in_(stale)))
    return [
        Waiting(r.id, language_of(r.locale), r.channel, r.created_at, r.sla_due_at, r.assignee)
        for q in queries
        for r in await conn.execute(q)
    ]


async def lock_free(conn: AsyncConnection, waiting: Sequence[Waiting]) -> list[Waiting]:
    """Lock the tickets a round may place, leaving out those another transaction is
    changing (an ingest adding a message): waiting on them while holding rows that one may
    want next could close a cycle. They are placed by the next round."""
    if not waiting:
        return []
    free = {
        i
        for (i,) in await conn.execute(
            select(tickets.c.id)
            .where(tickets.c.id.in_([t.id for t in waiting]))
            .with_for_update(skip_locked=True)
        )
    }
    return [t for t in waiting if t.id in free]


async def due_dates(conn: AsyncConnection, ticket_ids: Sequence[int]) -> dict[int, datetime]:
    """The nearest SLA deadline of each ticket that has one (hub.sla writes them)."""
    rows = await conn.execute(
        select(tickets.c.id, tickets.c.sla_due_at).where(
            tickets.c.id.in_(ticket_ids), tickets.c.sla_due_at.is_not(None)
        )
    )
    return {r.id: r.sla_due_at for r in rows}


async def inactive_usernames(conn: AsyncConnection) -> list[str]:
    """Agents taken out of the hub: their open tickets are reassigned at once."""
    rows = await conn.execute(select(agents.c.username).where(agents.c.active.is_(False)))
    return [u for (u,) in rows]


@dataclass(frozen=True)
class Assigned:
    """One change of a ticket's assignee, for its history and `ticket.assigned`."""

    ticket_id: int
    customer_id: int
    team_id: str
    assignee: str
    previous: str | None
    reason: str  # opened | waiting | reassigned (automatic) | manual


async def record_assignments(
    conn: AsyncConnection, done: Sequence[Assigned], now: datetime
) -> None:
    """The history rows and the outgoing events, in the caller's transaction."""
    if not done:
        return
    await conn.execute(
        ticket_assignments.insert(),
        [
            {
                "ticket_id": a.ticket_id,
                "assignee": a.assignee,
                "previous": a.previous,
                "reason": a.reason,
                "created_at": now,
            }
            for a in done
        ],
    )
    await emit(
        conn,
        [
            OutgoingEvent(
                TICKET_ASSIGNED,
                {
                    "ticket": ticket_ref(a.ticket_id),
                    "team": a.team_id,
                    "assignee": a.assignee,
                    "previous": a.previous,
                    "automatic": a.reason != "manual",
                },
                customer_id=a.customer_id,
                ticket_id=a.ticket_id,
            )
            for a in done
        ],
        now,
    )


async def write_assignments(
    conn: AsyncConnection,
    team_id: str,
    decided: Sequence[tuple[Waiting, str]],
    reason: str,
    now: datetime,
) -> int:
    """Give each ticket its agent if it still has the assignee it was read with (a person
    may have picked it up meanwhile); record the history row and `ticket.assigned` for
    each one that changed, in this transaction. Returns how many changed."""
    groups: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for ticket, username in decided:
        groups[(username, ticket.assignee)].append(ticket.id)
    changed: list[Assigned] = []
    for (username, previous), ids in groups.items():
        unchanged = (
            tickets.c.assignee.is_(None) if previous is None else tickets.c.assignee == previous
        )
        rows = await conn.execute(
            update(tickets)
            .where(and_(tickets.c.id.in_(ids), unchanged, tickets.c.status.in_(OPEN_STATUSES)))
            .values(assignee=username, updated_at=now)
            .returning(tickets.c.id, tickets.c.customer_id)
        )
        why = "reassigned" if previous else reason
        changed += [Assigned(r.id, r.customer_id, team_id, username, previous, why) for r in rows]
    # The history in the order decided (the updates went by agent), so it reads as the
    # rotation it was.
    order = {ticket.id: i for i, (ticket, _u) in enumerate(decided)}
    changed.sort(key=lambda a: order[a.ticket_id])
    await record_assignments(conn, changed, now)
    return len(changed)


async def move_pointer(
    conn: AsyncConnection, team_id: str, pointer: str | None, now: datetime
) -> None:
    await conn.execute(
        update(assignment_pointers)
        .where(assignment_pointers.c.team_id == team_id)
        .values(last_agent=pointer, updated_at=now)
    )


async def assignment_history(conn: AsyncConnection, ticket_id: int) -> list[Any]:
    """The ticket's automatic assignments, oldest first."""
    return list(
        (
            await conn.execute(
                select(ticket_assignments)
                .where(ticket_assignments.c.ticket_id == ticket_id)
                .order_by(ticket_assignments.c.id)
            )
        ).all()
    )
