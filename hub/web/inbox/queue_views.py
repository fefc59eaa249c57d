"""The queue page: the agent's teams with counts, filters, search, live updates."""

from __future__ import annotations

from aiohttp import web

from hub.agents.accounts import Actor
from hub.agents.teams import team_names
from hub.tickets.queries import (
    SLA_FILTERS,
    SORTS,
    TicketFilter,
    list_tickets,
    my_sla_counts,
    newest_ticket_id,
    queue_counts,
)
from hub.tickets.records import STATUSES
from hub.web.deps import deps_of
from hub.web.inbox.auth import session_of
from hub.web.inbox.availability_views import header_availability
from hub.web.inbox.pages import render, render_text
from hub.web.models import Priority

PAGE = 50
PRIORITIES: tuple[str, ...] = Priority.__args__  # type: ignore[attr-defined]
FILTER_KEYS = ("status", "channel", "assignee", "priority", "tag", "team", "q", "sla", "sort")


def _filter(request: web.Request, actor: Actor) -> tuple[TicketFilter, dict[str, str]]:
    raw = {k: request.query.get(k, "").strip()[:200] for k in FILTER_KEYS}
    if "status" not in request.query:
        raw["status"] = "open"
    if raw["status"] not in ("open", "", *STATUSES):
        raise web.HTTPBadRequest(text="unknown status")
    if raw["priority"] not in ("", *PRIORITIES):
        raise web.HTTPBadRequest(text="unknown priority")
    if raw["sla"] not in ("", *SLA_FILTERS) or raw["sort"] not in ("", *SORTS):
        raise web.HTTPBadRequest(text="unknown SLA filter or sort")
    try:
        page = max(1, min(10_000, int(request.query.get("page", "1"))))
    except ValueError:
        raise web.HTTPBadRequest(text="page must be a number") from None
    assignee = actor.username if raw["assignee"] == "me" else raw["assignee"]
    f = TicketFilter(
        status=raw["status"] or None,
        channel=raw["channel"] or None,
        assignee=assignee or None,
        priority=raw["priority"] or None,
        tag=raw["tag"] or None,
        team=raw["team"] or None,
        q=raw["q"] or None,
        sla=raw["sla"] or None,
        sort=raw["sort"] or "recent",
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )
    return f, raw


async def queue_page(request: web.Request) -> web.Response:
    session = session_of(request)
    actor = session.actor
    deps = deps_of(request)
    f, raw = _filter(request, actor)
    async with deps.store.read() as conn:
        rows = await list_tickets(conn, actor, f, deps.settings.phone_region)
        counts = await queue_counts(conn, actor)
        names = await team_names(conn)
        newest = await newest_ticket_id(conn, actor)
        mine = await my_sla_counts(conn, actor)
    queues = [
        {"id": t, "name": names.get(t, t), "counts": counts.get(t, {})}
        for t in sorted(names if actor.is_admin else actor.teams)
    ]
    return render(
        "queue.html",
        {
            "actor": actor,
            "csrf": session.csrf_token,
            "availability": await header_availability(request),
            "here": request.path_qs,
            "tickets": rows,
            "queues": queues,
            "filters": raw,
            "statuses": STATUSES,
            "priorities": PRIORITIES,
            "newest": newest,
            "my_sla": mine,
            "poll_ms": int(deps.agents.poll_seconds * 1000),
            "page": f.offset // PAGE + 1,
            "has_more": len(rows) == PAGE,
        },
    )


async def queue_poll(request: web.Request) -> web.Response:
    """What changed for the open queue page: the rows as rendered HTML, counts, newest id."""
    actor = session_of(request).actor
    deps = deps_of(request)
    f, _raw = _filter(request, actor)
    async with deps.store.read() as conn:
        rows = await list_tickets(conn, actor, f, deps.settings.phone_region)
        counts = await queue_counts(conn, actor)
        newest = await newest_ticket_id(conn, actor)
    return web.json_response(
        {
            "newest": newest,
            "counts": {t: sum(c.values()) for t, c in counts.items()},
            "rows": render_text("rows.html", {"tickets": rows}),
        },
        headers={"Cache-Control": "no-store"},
    )
