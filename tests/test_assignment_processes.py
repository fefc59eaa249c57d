"""Two `hub serve` processes on one PostgreSQL database, 250 web form messages arriving at
once on each: every ticket is assigned at most once, round robin, and no agent past
capacity."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from hub.assignment.availability import set_availability
from hub.store import Store, utcnow
from hub.store.schema import agents, outgoing_events, ticket_assignments, tickets
from tests.assignment_support import assign_config
from tests.hub_processes import HubProcess, hub_process

pytestmark = pytest.mark.slow
CAPACITY = {"alice": 50, "bob": 100, "carol": 100, "dave": 200}  # 450 places for 500
PER_HUB = 250


def _hub(tmp_path: Path, name: str, pg_url: str) -> HubProcess:
    data = assign_config(pg_url)
    data["replies"]["acknowledge_new_tickets"] = False
    data["bot"] = {"faq": None}
    data["agents"]["accounts"] = [
        {"username": u, "name": u.title(), "teams": ["support"], "capacity": c}
        for u, c in CAPACITY.items()
    ]
    return hub_process(tmp_path, name, data)


async def _post_many(hub: HubProcess, tag: str) -> list[int]:
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
            async with http.post(hub.url("/channels/contact/"), json=body) as resp:
                return resp.status

        return list(await asyncio.gather(*(post(i) for i in range(PER_HUB))))


async def _settled(store: Store, places: int, timeout: float = 60.0) -> None:
    """Until every place is taken (at ingest, or by a process's periodic round for those
    that waited), and a moment more: a second assignment of anything would show by then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with store.read() as conn:
            assigned = (
                await conn.execute(select(func.count()).where(tickets.c.assignee.is_not(None)))
            ).scalar_one()
        if assigned >= places:
            break
        assert loop.time() < deadline, f"{assigned} of {places} places taken"
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)


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


@pytest.mark.heavy
async def test_two_processes_assign_each_ticket_once_within_capacity(
    pg_url: str, tmp_path: Path
) -> None:
    a, b = _hub(tmp_path, "a", pg_url), _hub(tmp_path, "b", pg_url)
    store = Store(pg_url)
    try:
        await a.start()  # the first migrates the database and syncs the agents
        await b.start()
        async with store.read() as conn:
            ids = {r.username: r.id for r in await conn.execute(select(agents))}
        for agent_id in ids.values():
            await set_availability(store, agent_id, "online", utcnow())
        statuses = await asyncio.gather(_post_many(a, "a"), _post_many(b, "b"))
        assert Counter(s for part in statuses for s in part) == {201: 2 * PER_HUB}
        await _settled(store, sum(CAPACITY.values()))
        async with store.read() as conn:
            rows: list[Any] = (await conn.execute(select(tickets.c.id, tickets.c.assignee))).all()
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
    finally:
        for hub in (a, b):
            await hub.stop()
        await store.close()
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
