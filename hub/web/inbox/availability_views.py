"""The inbox's availability control (in the page header): online, away or off."""

from __future__ import annotations

from aiohttp import web

from hub.assignment.availability import availability_of
from hub.assignment.policy import AVAILABILITIES
from hub.core.edge_text import safe_redirect
from hub.web.api_availability import change_availability
from hub.web.deps import deps_of
from hub.web.inbox.auth import session_of
from hub.web.inbox.pages import PREFIX, read_form, see_other


async def header_availability(request: web.Request) -> str | None:
    """What the header's control shows: the agent's availability (None for no agent)."""
    agent_id = session_of(request).actor.agent_id
    if agent_id is None:
        return None
    async with deps_of(request).store.read() as conn:
        return (await availability_of(conn, agent_id)).value


async def inbox_set(request: web.Request) -> web.Response:
    """The inbox's control (the guard has checked the session and the CSRF token)."""
    actor = session_of(request).actor
    form = await read_form(request)
    value = form.get("availability")
    if actor.agent_id is None or value not in AVAILABILITIES:
        raise web.HTTPBadRequest(text="availability must be online, away or off")
    await change_availability(request, actor.agent_id, str(value))
    back = form.get("next")
    return see_other(safe_redirect(back if isinstance(back, str) else None, PREFIX))
