"""Shared by the assignment tests: a config with automatic assignment, messages, lookups."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime
from typing import Any

from sqlalchemy import select

from hub.app import Hub
from hub.assignment.availability import set_availability
from hub.ingest.pipeline import Pending
from hub.messages import Address, InboundMessage, SubmitResult
from hub.store.schema import agents, tickets
from tests.support import base_config

_SEQ = itertools.count()


def assign_config(url: str, mode: str = "round_robin", **team: Any) -> dict[str, Any]:
    """`support` assigns automatically to alice, bob and carol; `billing` stays manual."""
    data = base_config(url)
    data["teams"] = [
        {"id": "support", "name": "General support", "assign": mode, **team},
        {"id": "billing", "name": "Billing"},
    ]
    data["agents"] = {
        "accounts": [
            {"username": u, "name": u.title(), "teams": ["support"], "capacity": 3}
            for u in ("alice", "bob", "carol")
        ]
    }
    return data


def form_message(text: str = "Where is my order?", language: str | None = "en") -> InboundMessage:
    n = next(_SEQ)
    sender = Address("email", f"customer{n}@example.com", f"Customer {n}")
    return InboundMessage(
        channel="webform",
        connector_id="contact",
        external_id=f"assign-{n}",
        sender=sender,
        identities=(sender,),
        subject="Question",
        text=text,
        language=language,
        reply_to=sender,
        meta={},
    )


async def ingest(hub: Hub, msg: InboundMessage) -> SubmitResult:
    """One message through the pipeline in a transaction of its own (no workers running)."""
    future: asyncio.Future[SubmitResult] = asyncio.get_running_loop().create_future()
    await hub.pipeline.commit_alone(Pending(msg, future))
    return future.result()


async def agent_ids(hub: Hub) -> dict[str, int]:
    async with hub.store.read() as conn:
        return {
            r.username: r.id for r in await conn.execute(select(agents.c.username, agents.c.id))
        }


async def set_all(hub: Hub, value: str, now: datetime, *names: str) -> None:
    ids = await agent_ids(hub)
    for name in names or tuple(ids):
        await set_availability(hub.store, ids[name], value, now)


async def assignees(hub: Hub) -> dict[int, str | None]:
    async with hub.store.read() as conn:
        rows = await conn.execute(select(tickets.c.id, tickets.c.assignee).order_by(tickets.c.id))
        return {r.id: r.assignee for r in rows}
