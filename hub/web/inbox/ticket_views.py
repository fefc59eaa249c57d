"""The ticket page: the conversation, the customer, field edits, replies, notes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from markupsafe import Markup
from pydantic import ValidationError

from hub.actions.notes import add_note
from hub.actions.reply import cancel_scheduled, reply
from hub.actions.ticket_status import ActionRefused
from hub.actions.ticket_update import update_ticket
from hub.agents.accounts import agent_usernames
from hub.assignment.records import assignment_history
from hub.core.edge_text import parse_id
from hub.core.safe_html import sanitize_html
from hub.customers.views import identities_of
from hub.sla.timeline import ticket_sla
from hub.surveys.on_ticket import ticket_surveys
from hub.tickets.access import NotAllowed, TicketNotFound, ticket_for
from hub.tickets.canned import CannedProblem, canned_context, get_canned, list_canned, render_canned
from hub.tickets.queries import (
    TicketFilter,
    attachment_file,
    conversation,
    list_tickets,
    load_ticket,
    ticket_timezone,
)
from hub.tickets.records import STATUSES, ticket_ref
from hub.web.deps import WebDeps, deps_of
from hub.web.inbox.auth import session_of
from hub.web.inbox.availability_views import header_availability
from hub.web.inbox.pages import PREFIX, read_form, render, see_other
from hub.web.models import NoteBody, ReplyBody, TicketPatch, problems

PRIORITIES = ("low", "normal", "high", "urgent")


def _ticket_id(request: web.Request) -> int:
    ticket_id = parse_id(request.match_info["id"])
    if ticket_id is None:
        raise web.HTTPNotFound(text="no such ticket")
    return ticket_id


def _refused(status: int, message: str) -> web.Response:
    return render("error.html", {"status": status, "message": message}, status=status)


def _back(ticket_id: int, **query: str) -> web.Response:
    suffix = f"?{urlencode(query)}" if query else ""
    return see_other(f"{PREFIX}tickets/{ticket_id}{suffix}")


async def ticket_page(request: web.Request) -> web.Response:
    session = session_of(request)
    actor = session.actor
    deps = deps_of(request)
    ticket_id = _ticket_id(request)
    async with deps.store.read() as conn:
        ticket = await load_ticket(conn, ticket_id)
        if ticket is None:
            return _refused(404, "There is no such ticket.")
        if not actor.can_see_team(ticket.team_id):
            return _refused(403, "This ticket belongs to a team you are not in.")
        entries = await conversation(conn, ticket_id)
        ids = await identities_of(conn, ticket.customer_id)
        assignees = await agent_usernames(conn, ticket.team_id)
        assignments = await assignment_history(conn, ticket_id)
        others = await list_tickets(
            conn,
            actor,
            TicketFilter(customer_id=ticket.customer_id, limit=20),
            deps.settings.phone_region,
        )
        customer_zone = ticket.customer_timezone
        team_name = ticket.team_name
        canned = await list_canned(conn, actor, ticket.team_id)
        sla = await ticket_sla(conn, ticket_id)
        rated = await ticket_surveys(conn, ticket_id)
        draft, preview_error, chosen = "", None, None
        if (canned_id := parse_id(request.query.get("canned"))) is not None:
            found = await get_canned(conn, actor, canned_id)
            if found is not None:
                chosen = found.id
                context = await canned_context(conn, ticket, actor, team_name, deps.signature)
                try:
                    draft = render_canned(deps.replies, found.body, context)
                except CannedProblem as exc:
                    preview_error = str(exc)
    zone = ZoneInfo(customer_zone)
    shown = [
        {
            "entry": e,
            # Customer HTML is sanitized here, once, and nowhere trusted as given.
            "html": Markup(sanitize_html(e.html)) if e.html and e.kind == "in" else None,
            "local": e.scheduled.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            if e.scheduled
            else None,
        }
        for e in entries
    ]
    return render(
        "ticket.html",
        {
            "actor": actor,
            "csrf": session.csrf_token,
            "availability": await header_availability(request),
            "here": request.path_qs,
            "ticket": ticket,
            "ref": ticket_ref(ticket.id),
            "team_name": team_name,
            "entries": shown,
            "identities": ids,
            "assignees": assignees,
            "assignments": assignments,
            "statuses": STATUSES,
            "priorities": PRIORITIES,
            "canned": canned,
            "other_tickets": [t for t in others if t["id"] != ticket_id],
            "sla": sla,
            "surveys": rated,
            "customer_zone": customer_zone,
            "senders": sorted(c for c, k in deps.channels.address_kinds().items() if k),
            "chosen": chosen,
            "draft": draft,
            "preview_error": preview_error,
            "notice": request.query.get("notice", "")[:200],
            "error": request.query.get("error", "")[:500],
        },
    )


async def _form(request: web.Request) -> dict[str, str]:
    form = await read_form(request)
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


async def _act(request: web.Request, action: Any) -> web.Response:
    """Run an action and come back to the ticket, saying what happened."""
    ticket_id = _ticket_id(request)
    try:
        notice = await action(ticket_id)
    except TicketNotFound:
        return _refused(404, "There is no such ticket.")
    except NotAllowed:
        return _refused(403, "This ticket belongs to a team you are not in.")
    except ValidationError as exc:
        return _back(
            ticket_id, error="; ".join(f"{p['field']}: {p['message']}" for p in problems(exc))
        )
    except (ActionRefused, CannedProblem) as exc:
        return _back(ticket_id, error=str(exc))
    return _back(ticket_id, notice=notice)


async def ticket_update(request: web.Request) -> web.Response:
    deps, actor = deps_of(request), session_of(request).actor
    fields = await _form(request)

    async def act(ticket_id: int) -> str:
        tags = [t for t in fields.get("tags", "").split(",") if t.strip()]
        patch = TicketPatch.model_validate(
            {
                "status": fields.get("status") or None,
                "priority": fields.get("priority") or None,
                "assignee": fields.get("assignee") or None,
                "tags": tags,
            }
        )
        await update_ticket(
            deps.store,
            actor,
            ticket_id,
            patch.change(),
            notify=deps.notify,
            after=deps.after_change,
        )
        return "Saved."

    return await _act(request, act)


async def ticket_reply(request: web.Request) -> web.Response:
    deps, actor = deps_of(request), session_of(request).actor
    fields = await _form(request)

    async def act(ticket_id: int) -> str:
        body = ReplyBody.model_validate(
            {
                "text": fields.get("text", "").strip() or None,
                "status": fields.get("status") or None,
                "connector_id": fields.get("via") or None,
                "send_at": await _local_time(deps, ticket_id, fields.get("send_at", "")),
                "template": fields.get("template") == "yes",
            }
        )
        if body.text is None:
            raise ActionRefused("the reply is empty")
        draft = body.draft(ticket_id, body.text)
        sent = await reply(
            deps.store,
            actor,
            draft,
            deps.channels,
            deps.wake_outbox,
            after=deps.after_change,
        )
        if sent.send_at:
            return f"Reply to {sent.recipient} scheduled for {sent.send_at}."
        return f"Reply queued to {sent.recipient} via {sent.connector_id}."

    return await _act(request, act)


async def _local_time(deps: WebDeps, ticket_id: int, raw: str) -> datetime | None:
    """The form's date and time, read in the customer's time zone (the picker has none)."""
    if not raw.strip():
        return None
    try:
        naive = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ActionRefused("the send time is not a date and time") from None
    async with deps.store.read() as conn:
        zone = await ticket_timezone(conn, ticket_id)
    return naive.replace(tzinfo=ZoneInfo(zone or "UTC"))


async def ticket_cancel(request: web.Request) -> web.Response:
    deps, actor = deps_of(request), session_of(request).actor
    message_id = parse_id(request.match_info["message_id"])

    async def act(ticket_id: int) -> str:
        if message_id is None:
            raise ActionRefused("no such reply")
        await cancel_scheduled(deps.store, actor, ticket_id, message_id)
        return "The scheduled reply was cancelled."

    return await _act(request, act)


async def ticket_note(request: web.Request) -> web.Response:
    deps, actor = deps_of(request), session_of(request).actor
    fields = await _form(request)

    async def act(ticket_id: int) -> str:
        body = NoteBody.model_validate({"text": fields.get("text", "").strip()})
        await add_note(deps.store, actor, ticket_id, body.text)
        return "Note added."

    return await _act(request, act)


async def attachment_download(request: web.Request) -> web.StreamResponse:
    actor = session_of(request).actor
    attachment_id = parse_id(request.match_info["id"])
    if attachment_id is None:
        raise web.HTTPNotFound()
    async with deps_of(request).store.read() as conn:
        row = await attachment_file(conn, attachment_id)
        if row is None or row.content is None or row.ticket_id is None:
            raise web.HTTPNotFound()
        try:
            await ticket_for(conn, actor, row.ticket_id)
        except (TicketNotFound, NotAllowed):
            raise web.HTTPForbidden() from None
    # Always a download, never rendered in the inbox's origin.
    return web.Response(
        body=row.content,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": _disposition(row.filename),
            "Content-Security-Policy": "sandbox",
        },
    )


def _disposition(filename: str) -> str:
    from urllib.parse import quote

    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
