"""The periodic SLA check among 100,000 open tickets (SQLite), and recomputing every
deadline after a calendar edit.

Run: `.venv/bin/python bench/sla.py [--tickets 100000] [--rounds 40]`.

A fresh SQLite file (a temporary directory, deleted afterwards) migrated to the hub's
schema gets `--tickets` open tickets, opened over the 8 hours before a fixed instant
(`NOW`, a Wednesday), under three policies: VIP customers on the Dhaka office calendar
(business time, with BD public holidays), billing on the same calendar, everyone else in
calendar time; priorities spread over normal, high and urgent. Their clocks are started by
the hub's own `SlaClocks.opened` (first response and resolution each: twice as many
clocks as tickets), in pages.

Then, through the hub's Store and `SlaCheck`:
- catch-up: what is overdue at NOW (tickets opened hours ago), in rounds of at most
  1,000 claims per step, until a round finds nothing.
- check: `--rounds` rounds of the periodic check, the clock moving 15 s a round (its
  default interval) from NOW; each round breaches what fell due, queues the warnings and
  breach notices due (notification rows, integration events, the timeline), all claimed
  once. Printed: the median and the 95th percentile in ms, and what the rounds did.
- idle: the same check where nothing is due (the read-only probe most rounds are).
- recompute: a holiday added to the calendar on the day after NOW, then
  `recompute_deadlines` on every running clock: seconds, and how many moved.

Targets: `sla_check_ms` (the median round) < 200; recompute < 10 s.
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

from hub.config.calendars import CalendarConfig  # noqa: E402
from hub.config.sla import SlaConfig  # noqa: E402
from hub.sla.calendars import build_calendars  # noqa: E402
from hub.sla.check import SlaCheck  # noqa: E402
from hub.sla.clocks import Opened, SlaClocks  # noqa: E402
from hub.sla.policy import SlaRules, TicketFacts  # noqa: E402
from hub.sla.recompute import recompute_deadlines  # noqa: E402
from hub.store import Store  # noqa: E402
from hub.store.schema import customers, teams, tickets  # noqa: E402

NOW = datetime(2027, 3, 3, 6, 0, tzinfo=UTC)  # Wednesday, 12:00 in Dhaka
PAGE = 5000

CALENDAR = {
    "timezone": "Asia/Dhaka",
    "hours": {"sun-wed": ["09:00-13:00", "14:00-18:00"], "thu": ["09:00-16:00"]},
    "holidays": {"country": "BD"},
}
SLA = {
    "warn_before": "15m",
    "teams": {"support": {"notify": ["slack"]}, "billing": {"notify": ["slack"]}},
    "policies": [
        {
            "name": "vip",
            "match": {"customer_tags": ["vip"]},
            "business": "dhaka-office",
            "targets": {
                p: {"first_response": "30m", "next_response": "1h", "resolution": "8h"}
                for p in ("normal", "high", "urgent")
            },
        },
        {
            "name": "billing",
            "match": {"team": ["billing"]},
            "business": "dhaka-office",
            "targets": {
                "normal": {"first_response": "4h", "resolution": "2d"},
                "high": {"first_response": "2h", "resolution": "1d"},
                "urgent": {"first_response": "1h", "resolution": "8h"},
            },
        },
        {
            "name": "standard",
            "targets": {
                "normal": {"first_response": "8h", "resolution": "3d"},
                "high": {"first_response": "4h", "resolution": "2d"},
                "urgent": {"first_response": "2h", "resolution": "1d"},
            },
        },
    ],
}


def rules_with(calendar: dict[str, object]) -> SlaRules:
    cals = build_calendars({"dhaka-office": CalendarConfig.model_validate(calendar)})
    return SlaRules(SlaConfig.model_validate(SLA), cals)


async def fill(store: Store, clocks: SlaClocks, n: int, rng: random.Random) -> None:
    async with store.write() as conn:
        await conn.execute(
            teams.insert(), [{"id": "support", "name": "Support"}, {"id": "billing", "name": "B"}]
        )
    for start in range(0, n, PAGE):
        size = min(PAGE, n - start)
        opened_at = [NOW - timedelta(seconds=rng.uniform(0, 8 * 3600)) for _ in range(size)]
        vip = [rng.random() < 0.1 for _ in range(size)]
        team = ["billing" if rng.random() < 0.3 else "support" for _ in range(size)]
        prio = [rng.choice(("normal", "normal", "high", "urgent")) for _ in range(size)]
        async with store.write() as conn:
            cust = await conn.execute(
                customers.insert().returning(customers.c.id),
                [
                    {
                        "display_name": f"C{start + i}",
                        "locale": "en",
                        "timezone": "Asia/Dhaka",
                        "tags": ["vip"] if vip[i] else [],
                        "address": {},
                        "created_at": opened_at[i],
                        "updated_at": opened_at[i],
                    }
                    for i in range(size)
                ],
            )
            ids = [r.id for r in cust]
            rows = await conn.execute(
                tickets.insert().returning(tickets.c.id, tickets.c.customer_id),
                [
                    {
                        "customer_id": ids[i], "channel": "webform", "connector_id": "contact",
                        "team_id": team[i], "status": "open", "priority": prio[i],
                        "subject": "Help", "tags": [], "open_key": f"{ids[i]}:webform",
                        "created_at": opened_at[i], "updated_at": opened_at[i],
                        "last_message_at": opened_at[i],
                    }
                    for i in range(size)
                ],
            )  # fmt: skip
            index = {cid: i for i, cid in enumerate(ids)}
            opened = []
            for r in rows:
                i = index[r.customer_id]
                facts = TicketFacts(
                    "webform", "contact", team[i], prio[i], frozenset(),
                    frozenset({"vip"} if vip[i] else ()),
                )  # fmt: skip
                opened.append(Opened(r.id, facts, opened_at[i]))
            await clocks.opened(conn, opened, NOW)


async def main(n: int, rounds: int) -> None:
    rng = random.Random(14)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite+aiosqlite:///{tmp}/hub.db")
        await store.migrate()
        clocks = SlaClocks(rules_with(CALENDAR), clock=lambda: NOW)
        t = time.perf_counter()
        await fill(store, clocks, n, rng)
        print(f"tickets={n} clocks={2 * n} fill_seconds={time.perf_counter() - t:.1f}")
        check = SlaCheck(store, clocks)
        # The backlog overdue at NOW, taken a batch a round as a hub starting after a long
        # stop would; the timed rounds after it are the steady state.
        t, backlog, caught = time.perf_counter(), [0, 0, 0], 0
        while (r := await check.check(NOW)) != type(r)():
            backlog = [
                backlog[0] + r.breached,
                backlog[1] + r.warned,
                backlog[2] + r.breach_notices,
            ]
            caught += 1
        print(
            f"catch_up_seconds={time.perf_counter() - t:.1f} rounds={caught} "
            f"breached={backlog[0]} warned={backlog[1]} notices={backlog[2]}"
        )
        times, done = [], [0, 0, 0]
        for k in range(1, rounds + 1):
            t = time.perf_counter()
            r = await check.check(NOW + timedelta(seconds=15 * k))
            times.append((time.perf_counter() - t) * 1000)
            done = [done[0] + r.breached, done[1] + r.warned, done[2] + r.breach_notices]
        idle = []
        for _ in range(rounds):
            t = time.perf_counter()
            await check.check(NOW + timedelta(seconds=15 * rounds))
            idle.append((time.perf_counter() - t) * 1000)
        p95 = sorted(times)[int(0.95 * (len(times) - 1))]
        print(
            f"rounds={rounds} breached={done[0]} warned={done[1]} breach_notices={done[2]} "
            f"p95_ms={p95:.1f} idle_median_ms={statistics.median(idle):.1f}"
        )
        edited = {**CALENDAR, "holidays": {"country": "BD", "dates": ["2027-03-04"]}}
        t = time.perf_counter()
        again = await recompute_deadlines(store, rules_with(edited))
        seconds = time.perf_counter() - t
        print(f"recompute_seconds={seconds:.2f} running={again.clocks} moved={again.moved}")
        await store.close()
        print(f"sla_check_ms={statistics.median(times):.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(main(args.tickets, args.rounds))
