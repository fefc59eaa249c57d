"""SLA test helpers: a config with policies and a Slack webhook, a movable clock, and
what the store holds of a ticket's clocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select

from hub.app import Hub
from hub.store import utcnow
from hub.store.schema import sla_targets, tickets
from tests.support import base_config, hub_url

AUTH = {"Authorization": "Bearer test-token-0123456789"}
FORM = "/channels/contact/"


@dataclass
class SimClock:
    """The hub's time, set by the test: starts hours in the past, so what the SLA check
    queues is already due for the batches and the outbox, which run on real time."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def at(self, start: datetime, **delta: float) -> datetime:
        self.now = start + timedelta(**delta)
        return self.now


def sla_config(storage_url: str, slack_url: str, **sla: Any) -> dict[str, Any]:
    return with_sla(base_config(storage_url), slack_url, **sla)


def with_sla(data: dict[str, Any], slack_url: str, **sla: Any) -> dict[str, Any]:
    """The config `data` with a Slack webhook, a web chat and two SLA policies: urgent
    tickets 10 min / 1 h, normal 30 min / 20 min / 4 h, high 15 min / 20 min / 2 h."""
    data["replies"]["acknowledge_new_tickets"] = False
    data["connectors"] = [
        *data["connectors"],
        {"id": "team-slack", "type": "slack", "webhook_url": slack_url},
        {"id": "chat", "type": "webchat", "allowed_origins": ["http://shop.example"]},
    ]
    data["bot"] = {"faq": None}
    data["notifications"] = {"sweep_seconds": 0.1, "batch_window_seconds": 0.2}
    data["sla"] = {
        "warn_before": "10m",
        "check_seconds": 60,
        "teams": {"support": {"notify": ["team-slack"]}, "billing": {"notify": ["team-slack"]}},
        "policies": [
            {
                "name": "urgent-care",
                "match": {"priority": ["urgent"]},
                "targets": {"urgent": {"first_response": "10m", "resolution": "1h"}},
            },
            {
                "name": "standard",
                "targets": {
                    "normal": {"first_response": "30m", "next_response": "20m", "resolution": "4h"},
                    "high": {"first_response": "15m", "next_response": "20m", "resolution": "2h"},
                },
            },
        ],
        **sla,
    }
    return data


def sim_clock(hub: Hub, hours_ago: float = 6) -> SimClock:
    clock = SimClock(utcnow() - timedelta(hours=hours_ago))
    return use_clock(hub, clock)


def use_clock(hub: Hub, clock: SimClock) -> SimClock:
    hub.pipeline.setup.clock = clock
    hub.pipeline.setup.sla.clock = clock
    return clock


async def post_form(http: aiohttp.ClientSession, hub: Hub, email: str, message: str) -> int:
    async with http.post(
        hub_url(hub, FORM), json={"email": email, "subject": "Help", "message": message}
    ) as resp:
        body = await resp.json()
        assert resp.status == 201, body
        return int(body["ticket"][2:])


async def api(http: aiohttp.ClientSession, hub: Hub, method: str, path: str, body: Any) -> Any:
    async with http.request(method, hub_url(hub, f"/api/v1{path}"), json=body) as resp:
        assert resp.status in (200, 201, 202), await resp.text()
        return await resp.json()


async def targets(hub: Hub, ticket_id: int) -> dict[tuple[str, int], Any]:
    async with hub.store.read() as conn:
        rows = await conn.execute(select(sla_targets).where(sla_targets.c.ticket_id == ticket_id))
        return {(r.kind, r.cycle): r for r in rows}


async def due_of(hub: Hub, ticket_id: int) -> datetime | None:
    async with hub.store.read() as conn:
        return (
            await conn.execute(select(tickets.c.sla_due_at).where(tickets.c.id == ticket_id))
        ).scalar_one()
