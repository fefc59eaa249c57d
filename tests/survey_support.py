"""Helpers for the CSAT survey tests: solving a ticket as an agent would, and reading
what the surveys recorded."""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlalchemy import select

from hub.app import Hub
from hub.store.schema import messages, survey_responses, surveys, tickets
from tests.support import hub_url

API_AUTH = {"Authorization": "Bearer test-token-0123456789"}
SURVEYS_ON = {"surveys": {"enabled": True, "per_customer_days": 0}}


async def reply_and_solve(hub: Hub, ticket_id: int, text: str = "All sorted now.") -> None:
    """An answer that solves the ticket, through the API as an integration would."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            hub_url(hub, f"/api/v1/tickets/{ticket_id}/reply"),
            json={"text": text, "status": "solved"},
            headers=API_AUTH,
        ) as resp,
    ):
        assert resp.status == 202, await resp.text()


async def table(hub: Hub, t: Any) -> list[Any]:
    async with hub.store.read() as conn:
        return list((await conn.execute(select(t).order_by(t.c.id))).all())


async def answers(hub: Hub) -> list[tuple[int, int, str]]:
    """(survey id, rating, via) of every answer."""
    return [(r.survey_id, r.rating, r.via) for r in await table(hub, survey_responses)]


async def the_ticket(hub: Hub) -> Any:
    (ticket,) = await table(hub, tickets)
    return ticket


async def inbound_count(hub: Hub) -> int:
    return len([m for m in await table(hub, messages) if m.direction == "in"])


async def the_survey(hub: Hub) -> Any:
    (survey,) = await table(hub, surveys)
    return survey
