"""REST: the calling agent's availability for automatic assignment (/me/availability).
Only an agent has one: integration tokens are refused."""

from __future__ import annotations

import logging
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import SQLAlchemyError

from hub.agents.accounts import Actor
from hub.assignment.availability import Availability, availability_of, set_availability
from hub.assignment.policy import ONLINE
from hub.store import utcnow
from hub.web.api_common import actor_of, error, read_body
from hub.web.deps import deps_of

log = logging.getLogger(__name__)


class AvailabilityBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    availability: Literal["online", "away", "off"]


def availability_json(a: Availability) -> dict[str, Any]:
    return {"availability": a.value, "since": a.since.isoformat() if a.since else None}


def _agent_id(actor: Actor) -> int:
    if actor.kind != "agent" or actor.agent_id is None:
        raise error(403, "only an agent's token has an availability")
    return actor.agent_id


async def get_mine(request: web.Request) -> web.Response:
    agent_id = _agent_id(actor_of(request))
    async with deps_of(request).store.read() as conn:
        return web.json_response(availability_json(await availability_of(conn, agent_id)))


async def put_mine(request: web.Request) -> web.Response:
    agent_id = _agent_id(actor_of(request))
    body = await read_body(request, AvailabilityBody)
    return web.json_response(
        availability_json(await change_availability(request, agent_id, body.availability))
    )


async def change_availability(request: web.Request, agent_id: int, value: str) -> Availability:
    """Store it; an agent who comes online gets waiting tickets now, not at the next round."""
    deps = deps_of(request)
    now = utcnow()
    changed = await set_availability(deps.store, agent_id, value, now)
    if value == ONLINE:
        try:
            await deps.assign_now()
        except (SQLAlchemyError, OSError):
            # The availability is stored; the periodic round places the tickets.
            log.warning("assignment round after going online failed", exc_info=True)
    return changed
