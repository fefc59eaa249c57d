"""Two hub processes on one PostgreSQL database, 250 web form messages arriving at once on
each: every ticket is assigned at most once, round robin, and no agent past capacity."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
from sqlalchemy import select

from hub.app import Hub
from hub.store import utcnow
from hub.store.schema import outgoing_events, ticket_assignments, tickets
from tests.assignment_support import assign_config, set_all
from tests.support import hub_running, hub_url, make_config

CAPACITY = {"alice": 50, "bob": 100, "carol": 100, "dave": 200}  # 450 places for 500
PER_HUB = 250


async def _post_many(hub: Hub, tag: str) -> list[int]:
    connector = aiohttp.TCPConnector(limit=50)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def post(i: int) -> int:
            body = {
                "name": f"Customer {tag}{i}",
                "email": f"{tag}{i}@example.com",
                "subject": "Where is my order?",
                "message": "My order has not arrived yet.",
                "language": "en",
            }
            async with http.post(hub_url(hub, "/channels/contact/"), json=body) as resp:
                return resp.status

        return list(await asyncio.gather(*(post(i) for i in range(PER_HUB))))


async def _settle(a: Hub, b: Hub) -> None:
    """Rounds on both until neither places anything (the periodic job runs beside them)."""
    quiet = 0
    while quiet < 2:
        placed = await asyncio.gather(
            a.pipeline.setup.assigner.run_once(), b.pipeline.setup.assigner.run_once()
        )
        quiet = quiet + 1 if sum(placed) == 0 else 0


def _replay_round_robin(sequence: list[str]) -> None:
    """Each assignment went to the next agent by name after the previous one's, skipping
    those at capacity: the rotation held across both processes."""
    names = sorted(CAPACITY)
    load: Counter[str] = Counter()
    last: str | None = None
    for who in sequence:
        start = 0 if last is None else names.index(last) + 1
        rotation = [names[(start + k) % len(names)] for k in range(len(names))]
        expected = next(n for n in rotation if load[n] < CAPACITY[n])
        assert who == expected, (len(load), who, expected)
        load[who] += 1
        last = who


async def test_two_processes_assign_each_ticket_once_within_capacity(pg_url: str) -> None:
    data = assign_config(pg_url)
    data["replies"]["acknowledge_new_tickets"] = False
    data["agents"]["accounts"] = [
        {"username": u, "name": u.title(), "teams": ["support"], "capacity": c}
        for u, c in CAPACITY.items()
    ]
    config = make_config(data)
    async with hub_running(config) as a, hub_running(config) as b:
        await set_all(a, "online", utcnow())
        statuses = await asyncio.gather(_post_many(a, "a"), _post_many(b, "b"))
        assert Counter(s for part in statuses for s in part) == {201: 2 * PER_HUB}
        await _settle(a, b)
        async with a.store.read() as conn:
            rows = (await conn.execute(select(tickets.c.id, tickets.c.assignee))).all()
            history = (
                await conn.execute(
                    select(ticket_assignments.c.ticket_id, ticket_assignments.c.assignee).order_by(
                        ticket_assignments.c.id
                    )
                )
            ).all()
            events = (
                await conn.execute(
                    select(outgoing_events.c.ticket_id).where(
                        outgoing_events.c.type == "ticket.assigned"
                    )
                )
            ).all()
    assert len(rows) == 2 * PER_HUB
    held = Counter(r.assignee for r in rows)
    # Filled to capacity exactly, never past it; the rest wait for someone to free up.
    assert held == {**CAPACITY, None: 2 * PER_HUB - sum(CAPACITY.values())}
    # Assigned once each: one history row and one event per assigned ticket.
    assert sorted(h.ticket_id for h in history) == sorted(r.id for r in rows if r.assignee)
    assert sorted(e.ticket_id for e in events) == sorted(h.ticket_id for h in history)
    assert {h.ticket_id: h.assignee for h in history} == {
        r.id: r.assignee for r in rows if r.assignee
    }
    _replay_round_robin([h.assignee for h in history])
