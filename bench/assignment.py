"""Time of automatic assignment rounds with 100,000 open tickets in one team (SQLite).

Run: `.venv/bin/python bench/assignment.py [--tickets 100000] [--agents 50]`.

Fills a fresh SQLite file (a temporary directory, deleted afterwards) migrated to the hub's
schema: one round robin team, `--agents` agents online, `--tickets` open tickets of which
97% are assigned evenly (some with SLA deadlines), the rest waiting. Then, through the
hub's own Store and Assigner (`hub.assignment`):

- busy: rounds that each place up to ROUND_LIMIT waiting tickets (conditional updates,
  history rows and `ticket.assigned` events, the pointer), until none waits;
- steady: rounds with agents under capacity and nothing waiting, the state the periodic
  job finds almost every time: the locks, the load count and the waiting query only.
  `assignment_steady_round_ms` (the median) is the headline.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from hub.assignment.assigner import AgentTerms, Assigner, TeamRule  # noqa: E402
from hub.assignment.records import ROUND_LIMIT  # noqa: E402
from hub.store import Store  # noqa: E402
from hub.store.schema import (  # noqa: E402
    agent_availability,
    agent_teams,
    agents,
    customers,
    teams,
    tickets,
)

NOW = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)


async def _fill(store: Store, n_tickets: int, n_agents: int, rng: random.Random) -> list[str]:
    names = [f"agent{i:03d}" for i in range(n_agents)]
    async with store.write() as conn:
        await conn.execute(teams.insert().values(id="support", name="Support"))
        await conn.execute(
            agents.insert(),
            [
                dict(username=u, display_name=u, role="agent", source="config", active=True,
                     created_at=NOW, updated_at=NOW)
                for u in names
            ],
        )  # fmt: skip
        ids = [i for (i,) in await conn.execute(select(agents.c.id))]
        await conn.execute(agent_teams.insert(), [dict(agent_id=i, team_id="support") for i in ids])
        await conn.execute(
            agent_availability.insert(),
            [dict(agent_id=i, availability="online", since=NOW) for i in ids],
        )
        n_customers = max(1, n_tickets // 10)
        await conn.execute(
            customers.insert(),
            [
                dict(locale=rng.choice(["en", "bn"]), timezone="Asia/Dhaka", address={}, tags=[],
                     created_at=NOW, updated_at=NOW)
                for _ in range(n_customers)
            ],
        )  # fmt: skip
        rows = []
        for i in range(n_tickets):
            created = NOW - timedelta(minutes=rng.randint(1, 60 * 24 * 30))
            due = created + timedelta(hours=rng.randint(1, 48)) if rng.random() < 0.5 else None
            waiting = rng.random() < 0.03
            rows.append(
                dict(customer_id=1 + i % n_customers, channel="email", connector_id="mail",
                     team_id="support", status=rng.choice(["new", "open", "pending"]),
                     priority="normal", tags=[], assignee=None if waiting else names[i % n_agents],
                     created_at=created, updated_at=created, last_message_at=created,
                     sla_due_at=due)
            )  # fmt: skip
        for start in range(0, len(rows), 10_000):
            await conn.execute(tickets.insert(), rows[start : start + 10_000])
    return names


async def main(n_tickets: int, n_agents: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await store.migrate()
        names = await _fill(store, n_tickets, n_agents, random.Random(14))
        async with store.read() as conn:
            waiting = (
                await conn.execute(select(func.count()).where(tickets.c.assignee.is_(None)))
            ).scalar_one()
        # Room for every waiting ticket and more: the steady rounds find agents free.
        capacity = n_tickets // n_agents * 2
        assigner = Assigner(
            store,
            {"support": TeamRule("round_robin", timedelta(minutes=30))},
            {u: AgentTerms(capacity) for u in names},
            clock=lambda: NOW,
        )
        print(f"tickets={n_tickets} agents={n_agents} waiting={waiting} limit={ROUND_LIMIT}")
        busy: list[float] = []
        placed_total = 0
        while True:
            t = time.perf_counter()
            placed = await assigner.run_once()
            if not placed:
                break
            busy.append((time.perf_counter() - t) * 1000)
            placed_total += placed
        print(f"busy_rounds={len(busy)} placed={placed_total}")
        print(f"busy_round_ms_median={statistics.median(busy):.1f} max={max(busy):.1f}")
        steady = []
        for _ in range(20):
            t = time.perf_counter()
            assert await assigner.run_once() == 0
            steady.append((time.perf_counter() - t) * 1000)
        await store.close()
    print(f"assignment_steady_round_ms={statistics.median(steady):.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.tickets, args.agents))
