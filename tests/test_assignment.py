"""Automatic assignment on SQLite and PostgreSQL: tickets ingest opens get an agent in the
same transaction; the periodic round places waiting tickets and reassigns those of agents
away too long; capacity, availability, skills and deadlines decide who gets what."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from hub.app import Hub, open_hub
from hub.assignment.records import assignment_history
from hub.privacy.erase import Eraser, erase_customer
from hub.store import utcnow
from hub.store.schema import agents, customers, outgoing_events, tickets
from tests.assignment_support import (
    assign_config,
    assignees,
    form_message,
    ingest,
    set_all,
)
from tests.support import REGISTRY, make_config

# The rules themselves run on SQLite only; what differs on PostgreSQL (locks, RETURNING,
# NULLS LAST) is covered by the tests on both and the two-process test.
SQLITE_ONLY = pytest.mark.parametrize("storage_url", ["sqlite"], indirect=True)


@contextlib.asynccontextmanager
async def _hub(data: dict[str, Any]) -> AsyncIterator[Hub]:
    async with open_hub(make_config(data), REGISTRY) as hub:
        # The periodic job's first round makes the team's pointer row (ingest never does).
        await hub.pipeline.setup.assigner.run_once()
        yield hub


async def _opened(hub: Hub, n: int, **kw: Any) -> list[int]:
    return [(await ingest(hub, form_message(**kw))).ticket_id for _ in range(n)]  # type: ignore[misc]


async def test_opened_tickets_go_round_robin_up_to_capacity(storage_url: str) -> None:
    async with _hub(assign_config(storage_url)) as hub:
        await set_all(hub, "online", utcnow())
        ids = await _opened(hub, 11)
        got = await assignees(hub)
        assert [got[i] for i in ids] == ["alice", "bob", "carol"] * 3 + [None, None]
        # Each assignment is in the ticket's history and told to integrations, once.
        async with hub.store.read() as conn:
            history = await assignment_history(conn, ids[0])
            events = (
                await conn.execute(
                    select(outgoing_events.c.ticket_id, outgoing_events.c.data).where(
                        outgoing_events.c.type == "ticket.assigned"
                    )
                )
            ).all()
        assert [(h.assignee, h.previous, h.reason) for h in history] == [("alice", None, "opened")]
        assert sorted(e.ticket_id for e in events) == sorted(ids[:9])
        assert {e.data["assignee"] for e in events} == {"alice", "bob", "carol"}


@SQLITE_ONLY
async def test_a_solved_ticket_frees_capacity_for_a_waiting_one(storage_url: str) -> None:
    async with _hub(assign_config(storage_url)) as hub:
        await set_all(hub, "online", utcnow())
        ids = await _opened(hub, 10)
        assert (await assignees(hub))[ids[9]] is None
        async with hub.store.write() as conn:
            await conn.execute(
                update(tickets).where(tickets.c.id == ids[1]).values(status="solved")
            )
        assert await hub.pipeline.setup.assigner.run_once() == 1
        # bob had the solved one; the pointer was at carol, so alice is next but full.
        assert (await assignees(hub))[ids[9]] == "bob"


@SQLITE_ONLY
async def test_only_online_agents_get_tickets(storage_url: str) -> None:
    async with _hub(assign_config(storage_url)) as hub:
        await set_all(hub, "online", utcnow(), "bob")
        await set_all(hub, "away", utcnow(), "alice")
        ids = await _opened(hub, 2)
        got = await assignees(hub)
        assert [got[i] for i in ids] == ["bob", "bob"]
        await set_all(hub, "off", utcnow(), "bob")
        waiting = await _opened(hub, 1)
        assert (await assignees(hub))[waiting[0]] is None
        await set_all(hub, "online", utcnow(), "alice")
        assert await hub.pipeline.setup.assigner.run_once() == 1
        assert (await assignees(hub))[waiting[0]] == "alice"


@SQLITE_ONLY
async def test_never_set_availability_counts_as_off(storage_url: str) -> None:
    async with _hub(assign_config(storage_url)) as hub:
        ids = await _opened(hub, 1)
        assert (await assignees(hub))[ids[0]] is None


async def test_reassigned_after_the_assignee_is_away_too_long(storage_url: str) -> None:
    async with _hub(assign_config(storage_url, reassign_after="30m")) as hub:
        t0 = utcnow()
        await set_all(hub, "online", t0, "alice")
        [ticket] = await _opened(hub, 1)
        assert (await assignees(hub))[ticket] == "alice"
        await set_all(hub, "away", t0, "alice")
        await set_all(hub, "online", t0, "bob")
        assigner = hub.pipeline.setup.assigner
        assigner.clock = lambda: t0 + timedelta(minutes=29)
        assert await assigner.run_once() == 0
        assert (await assignees(hub))[ticket] == "alice"
        assigner.clock = lambda: t0 + timedelta(minutes=30)
        assert await assigner.run_once() == 1
        assert (await assignees(hub))[ticket] == "bob"
        async with hub.store.read() as conn:
            history = await assignment_history(conn, ticket)
        assert [(h.assignee, h.previous, h.reason) for h in history] == [
            ("alice", None, "opened"),
            ("bob", "alice", "reassigned"),
        ]


@SQLITE_ONLY
async def test_no_one_to_take_over_keeps_the_assignee(storage_url: str) -> None:
    async with _hub(assign_config(storage_url, reassign_after="5m")) as hub:
        t0 = utcnow()
        await set_all(hub, "online", t0, "alice")
        [ticket] = await _opened(hub, 1)
        await set_all(hub, "off", t0, "alice")
        hub.pipeline.setup.assigner.clock = lambda: t0 + timedelta(hours=3)
        assert await hub.pipeline.setup.assigner.run_once() == 0
        assert (await assignees(hub))[ticket] == "alice"


async def test_the_nearest_deadline_is_placed_first(storage_url: str) -> None:
    async with _hub(assign_config(storage_url)) as hub:
        ids = await _opened(hub, 4)  # nobody online: all wait
        now = utcnow()
        due = {ids[0]: None, ids[1]: now + timedelta(hours=3), ids[2]: now + timedelta(hours=1)}
        async with hub.store.write() as conn:
            for tid, at in due.items():
                await conn.execute(update(tickets).where(tickets.c.id == tid).values(sla_due_at=at))
        # Room for two: the two with deadlines, nearest first; then the oldest without.
        await set_all(hub, "online", now, "alice")
        async with hub.store.write() as conn:
            await conn.execute(
                update(tickets).where(tickets.c.id == ids[3]).values(status="pending")
            )
        hub.pipeline.setup.assigner.terms["alice"] = type(
            hub.pipeline.setup.assigner.terms["alice"]
        )(capacity=2)
        assert await hub.pipeline.setup.assigner.run_once() == 2
        got = await assignees(hub)
        assert (got[ids[2]], got[ids[1]], got[ids[0]]) == ("alice", "alice", None)


@SQLITE_ONLY
async def test_skills_send_a_bengali_ticket_to_the_agent_who_reads_it(storage_url: str) -> None:
    data = assign_config(storage_url)
    data["agents"]["accounts"][0]["skills"] = {"languages": ["en"]}
    data["agents"]["accounts"][1]["skills"] = {"languages": ["bn"], "channels": ["webform"]}
    data["agents"]["accounts"][2]["skills"] = {"channels": ["email"]}
    async with _hub(data) as hub:
        await set_all(hub, "online", utcnow())
        english = await _opened(hub, 2)
        bengali = await _opened(hub, 2, text="আমার অর্ডার এখনো আসেনি", language="bn")
        async with hub.store.read() as conn:
            locales = {
                r.locale
                for r in await conn.execute(
                    select(customers.c.locale).join(tickets).where(tickets.c.id.in_(bengali))
                )
            }
        assert locales == {"bn"}
        got = await assignees(hub)
        assert [got[i] for i in english] == ["alice", "alice"]  # carol takes only email
        assert [got[i] for i in bengali] == ["bob", "bob"]


@SQLITE_ONLY
async def test_least_loaded_counts_open_tickets_in_every_team(storage_url: str) -> None:
    data = assign_config(storage_url, mode="least_loaded")
    for account in data["agents"]["accounts"]:
        account["teams"] = ["support", "billing"]
    async with _hub(data) as hub:
        await set_all(hub, "online", utcnow())
        # Billing (manual) work: alice holds two, bob one.
        billing = await _opened(hub, 3, text="Please refund my invoice")
        async with hub.store.write() as conn:
            for tid, who in zip(billing, ["alice", "alice", "bob"], strict=True):
                await conn.execute(update(tickets).where(tickets.c.id == tid).values(assignee=who))
        ids = await _opened(hub, 4)
        got = await assignees(hub)
        assert [got[i] for i in ids] == ["carol", "bob", "carol", "alice"]


@SQLITE_ONLY
async def test_manual_teams_are_left_alone(storage_url: str) -> None:
    async with _hub(assign_config(storage_url, mode="manual")) as hub:
        await set_all(hub, "online", utcnow())
        ids = await _opened(hub, 2)
        assert not hub.pipeline.setup.assigner.active
        assert [(await assignees(hub))[i] for i in ids] == [None, None]


@SQLITE_ONLY
async def test_what_an_agent_picked_up_by_hand_stays_theirs(storage_url: str) -> None:
    # carol never set her availability (off for assignment) but took a ticket herself:
    # she did not go away, so it is not reassigned.
    async with _hub(assign_config(storage_url, reassign_after="1m")) as hub:
        ids = await _opened(hub, 1)
        async with hub.store.write() as conn:
            await conn.execute(
                update(tickets).where(tickets.c.id == ids[0]).values(assignee="carol")
            )
        await set_all(hub, "online", utcnow(), "alice")
        hub.pipeline.setup.assigner.clock = lambda: utcnow() + timedelta(hours=1)
        assert await hub.pipeline.setup.assigner.run_once() == 0
        assert (await assignees(hub))[ids[0]] == "carol"


@SQLITE_ONLY
async def test_tickets_of_an_agent_taken_out_of_the_hub_move_on(storage_url: str) -> None:
    async with _hub(assign_config(storage_url)) as hub:
        await set_all(hub, "online", utcnow(), "alice")
        ids = await _opened(hub, 2)
        async with hub.store.write() as conn:
            await conn.execute(
                update(agents).where(agents.c.username == "alice").values(active=False)
            )
        await set_all(hub, "online", utcnow(), "bob")
        assert await hub.pipeline.setup.assigner.run_once() == 2
        got = await assignees(hub)
        assert [got[i] for i in ids] == ["bob", "bob"]


@SQLITE_ONLY
async def test_agents_count_as_off_outside_the_teams_calendar(storage_url: str) -> None:
    data = assign_config(storage_url, calendar="mornings")
    data["calendars"] = {"mornings": {"timezone": "UTC", "hours": {"mon-fri": ["09:00-12:00"]}}}
    async with _hub(data) as hub:
        [ticket] = await _opened(hub, 1)  # nobody online yet: it waits
        await set_all(hub, "online", utcnow(), "alice")
        assigner = hub.pipeline.setup.assigner
        monday = datetime(2027, 3, 1, tzinfo=UTC)
        for at, placed in [(monday.replace(hour=8), 0), (monday.replace(hour=12), 0),
                           (monday + timedelta(days=5, hours=10), 0),  # Saturday
                           (monday.replace(hour=9), 1)]:  # fmt: skip
            assigner.clock = lambda at=at: at  # type: ignore[misc]
            assert await assigner.run_once() == placed, at
        assert (await assignees(hub))[ticket] == "alice"


@SQLITE_ONLY
async def test_erasing_a_customer_takes_their_tickets_assignment_history(storage_url: str) -> None:
    async with _hub(assign_config(storage_url)) as hub:
        await set_all(hub, "online", utcnow(), "alice")
        [ticket] = await _opened(hub, 1)
        async with hub.store.write() as conn:
            customer_id = (
                await conn.execute(select(tickets.c.customer_id).where(tickets.c.id == ticket))
            ).scalar_one()
            assert len(await assignment_history(conn, ticket)) == 1
            report = await erase_customer(
                conn, customer_id, "delete", Eraser("test", b"k" * 32, utcnow())
            )
        assert report.counts.get("ticket_assignments") == 1
        async with hub.store.read() as conn:
            assert await assignment_history(conn, ticket) == []


async def test_a_round_passes_over_a_ticket_another_transaction_is_changing(pg_url: str) -> None:
    async with _hub(assign_config(pg_url)) as hub:
        busy, idle = await _opened(hub, 2)  # nobody online: both wait
        await set_all(hub, "online", utcnow(), "alice")
        assigner = hub.pipeline.setup.assigner
        async with hub.store.write() as conn:
            # As an ingest adding a message to `busy` would, in a transaction still open.
            await conn.execute(update(tickets).where(tickets.c.id == busy).values(tags=["x"]))
            assert await asyncio.wait_for(assigner.run_once(), 10) == 1
        got = await assignees(hub)
        assert (got[busy], got[idle]) == (None, "alice")
        assert await assigner.run_once() == 1
        assert (await assignees(hub))[busy] == "alice"


@SQLITE_ONLY
async def test_in_one_ingest_batch_the_nearest_deadline_gets_the_last_place(
    storage_url: str,
) -> None:
    data = assign_config(storage_url)
    data["routing"]["rules"].append(
        {"name": "urgent", "match": {"body": "(?i)urgent"}, "set": {"team": "support",
                                                                    "priority": "urgent"}}
    )  # fmt: skip
    data["sla"] = {
        "policies": [
            {
                "name": "all",
                "targets": {
                    "normal": {"first_response": "4h"},
                    "urgent": {"first_response": "30m"},
                },
            }
        ]
    }
    data["agents"]["accounts"][0]["capacity"] = 1
    async with _hub(data) as hub:
        await set_all(hub, "online", utcnow(), "alice")
        msgs = [form_message("Where is my order?"), form_message("URGENT: charged twice")]
        # Both in one group commit: the urgent one came second but is due first.
        submits = [asyncio.create_task(hub.pipeline.submit(m)) for m in msgs]
        await asyncio.sleep(0)
        writer = asyncio.create_task(hub.pipeline.run())
        try:
            normal, urgent = await asyncio.gather(*submits)
        finally:
            writer.cancel()
        got = await assignees(hub)
        assert (got[urgent.ticket_id], got[normal.ticket_id]) == ("alice", None)
