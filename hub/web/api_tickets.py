"""REST: tickets (list, get with messages and notes, update, reply, note)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.actions.notes import add_note
from hub.actions.reply import cancel_scheduled, reply
from hub.actions.ticket_status import ActionRefused
from hub.actions.ticket_update import update_ticket
from hub.agents.teams import team_name
from hub.assignment.records import assignment_history
from hub.core.edge_text import parse_id
from hub.sla.timeline import ticket_sla
from hub.surveys.on_ticket import ticket_surveys
from hub.tickets.access import NotAllowed, TicketNotFound, ticket_for
from hub.tickets.canned import CannedProblem, canned_context, get_canned, render_canned
from hub.tickets.history import ticket_history
from hub.tickets.queries import SLA_FILTERS, SORTS, TicketFilter, list_tickets
from hub.tickets.records import STATUSES
from hub.web.api_common import (
    MAX_PAGE,
    actor_of,
    error,
    int_param,
    message_json,
    path_id,
    read_body,
    row_json,
    text_param,
    ticket_json,
)
from hub.web.deps import deps_of
from hub.web.models import NoteBody, ReplyBody, TicketPatch

PRIORITIES = ("low", "normal", "high", "urgent")


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = text_param(request, name)
    if value is not None and value not in allowed:
        raise error(400, f"{name} must be one of {', '.join(allowed)}")
    return value


async def list_tickets_handler(request: web.Request) -> web.Response:
    deps, actor = deps_of(request), actor_of(request)
    customer = text_param(request, "customer", 18)
    customer_id = parse_id(customer)
    if customer is not None and customer_id is None:
        raise error(400, "customer must be an id")
    f = TicketFilter(
        status=_choice(request, "status", ("open", *STATUSES)),
        channel=text_param(request, "channel"),
        assignee=text_param(request, "assignee"),
        priority=_choice(request, "priority", PRIORITIES),
        tag=text_param(request, "tag"),
        team=text_param(request, "team"),
        customer_id=customer_id,
        q=text_param(request, "q"),
        sla=_choice(request, "sla", SLA_FILTERS),
        sort=_choice(request, "sort", SORTS) or "recent",
        limit=int_param(request, "limit", 50, 1, MAX_PAGE),
        offset=int_param(request, "offset", 0, 0, 10**9),
    )
    async with deps.store.read() as conn:
        rows = await list_tickets(conn, actor, f, deps.settings.phone_region)
    return web.json_response({"tickets": [ticket_json(r) for r in rows]})


async def _visible_ticket(request: web.Request, conn: Any, ticket_id: int) -> Any:
    try:
        return await ticket_for(conn, actor_of(request), ticket_id)
    except TicketNotFound:
        raise error(404, "not found") from None
    except NotAllowed:
        raise error(403, "this ticket belongs to a team you are not in") from None


async def get_ticket(request: web.Request) -> web.Response:
    ticket_id = path_id(request)
    async with deps_of(request).store.read() as conn:
        row = await _visible_ticket(request, conn, ticket_id)
        history = await ticket_history(conn, ticket_id)
        assignments = await assignment_history(conn, ticket_id)
        sla = await ticket_sla(conn, ticket_id)
        rated = await ticket_surveys(conn, ticket_id)
    return web.json_response(
        {
            **ticket_json(row),
            "messages": [message_json(m, history.delivery.get(m.id)) for m in history.messages],
            "notes": [row_json(n) for n in history.notes],
            "assignments": [row_json(a) for a in assignments],
            "sla": sla.to_json(),
            "surveys": [row_json(s) for s in rated],
        }
    )


async def _mapped(coro: Any) -> Any:
    try:
        return await coro
    except TicketNotFound:
        raise error(404, "not found") from None
    except NotAllowed:
        raise error(403, "this ticket belongs to a team you are not in") from None
    except (ActionRefused, CannedProblem) as exc:
        raise error(409, str(exc)) from None


async def patch_ticket(request: web.Request) -> web.Response:
    deps, actor = deps_of(request), actor_of(request)
    ticket_id = path_id(request)
    body = await read_body(request, TicketPatch)
    await _mapped(
        update_ticket(
            deps.store,
            actor,
            ticket_id,
            body.change(),
            notify=deps.notify,
            after=deps.after_change,
        )
    )
    async with deps.store.read() as conn:
        row = await _visible_ticket(request, conn, ticket_id)
    return web.json_response(ticket_json(row))


async def _canned_text(request: web.Request, ticket_id: int, canned_id: int) -> str:
    deps, actor = deps_of(request), actor_of(request)
    async with deps.store.read() as conn:
        ticket = await _visible_ticket(request, conn, ticket_id)
        canned = await get_canned(conn, actor, canned_id)
        if canned is None:
            raise error(404, "no such canned response")
        team = await team_name(conn, ticket.team_id)
        context = await canned_context(conn, ticket, actor, team, deps.signature)
    try:
        return render_canned(deps.replies, canned.body, context)
    except CannedProblem as exc:
        raise error(409, str(exc)) from None


async def preview_canned(request: web.Request) -> web.Response:
    text = await _canned_text(request, path_id(request), path_id(request, "canned_id"))
    return web.json_response({"text": text})


async def post_reply(request: web.Request) -> web.Response:
    deps, actor = deps_of(request), actor_of(request)
    ticket_id = path_id(request)
    body = await read_body(request, ReplyBody)
    if (body.text is None) == (body.canned_response_id is None):
        raise error(422, "give text or canned_response_id (one of them)")
    text = body.text
    if body.canned_response_id is not None:
        text = await _canned_text(request, ticket_id, body.canned_response_id)
    assert text is not None
    sent = await _mapped(
        reply(
            deps.store,
            actor,
            body.draft(ticket_id, text),
            deps.channels,
            deps.wake_outbox,
            after=deps.after_change,
        )
    )
    return web.json_response(
        {
            "message_id": sent.message_id,
            "outbox_id": sent.outbox_id,
            "connector_id": sent.connector_id,
            "recipient": sent.recipient,
            "text": text,
            "send_at": sent.send_at,
        },
        status=202,
    )


async def post_note(request: web.Request) -> web.Response:
    deps, actor = deps_of(request), actor_of(request)
    ticket_id = path_id(request)
    body = await read_body(request, NoteBody)
    note_id = await _mapped(add_note(deps.store, actor, ticket_id, body.text))
    return web.json_response({"id": note_id, "author": actor.name}, status=201)


async def cancel_scheduled_reply(request: web.Request) -> web.Response:
    deps, actor = deps_of(request), actor_of(request)
    await _mapped(
        cancel_scheduled(deps.store, actor, path_id(request), path_id(request, "message_id"))
    )
    return web.Response(status=204)
