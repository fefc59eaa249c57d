"""What agents read: queues with counts, filtered and searched ticket lists, conversations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, and_, cast, exists, false, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.agents.accounts import Actor
from hub.core.identity import normalize_email, normalize_phone
from hub.store import utcnow
from hub.store.schema import (
    attachments,
    customers,
    identities,
    message_events,
    messages,
    outbox,
    teams,
    ticket_notes,
    tickets,
)
from hub.tickets.records import OPEN_STATUSES, ticket_ref

_TICKET = re.compile(r"^(?:#|t-?|#t-?)\s*(\d{1,18})$", re.IGNORECASE)
_PHONEISH = re.compile(r"^\+?[\d\s().-]{6,40}$")


@dataclass(frozen=True)
class TicketFilter:
    status: str | None = None  # a status, or "open" for new+open+pending
    channel: str | None = None
    assignee: str | None = None  # a username, or "none"
    priority: str | None = None
    tag: str | None = None
    team: str | None = None
    customer_id: int | None = None
    q: str | None = None
    # "breached": a deadline passed unmet; "due_soon": the next one within the hour.
    sla: str | None = None
    # "recent" (last message first) or "due" (nearest SLA deadline first).
    sort: str = "recent"
    limit: int = 50
    offset: int = 0


SLA_FILTERS = ("breached", "due_soon")
SORTS = ("recent", "due")
DUE_SOON = timedelta(hours=1)


def sla_state(due: datetime | None, now: datetime) -> str | None:
    """What a ticket's nearest SLA deadline (tickets.sla_due_at) says: breached, due_soon,
    on_track, or None without one. A breached target keeps its passed deadline there until
    it is met, so the one column answers both badges and filters."""
    if due is None:
        return None
    if due <= now:
        return "breached"
    return "due_soon" if due <= now + DUE_SOON else "on_track"


def visible_to(actor: Actor) -> Any:
    """The WHERE clause limiting tickets to the actor's teams (admins: everything)."""
    if actor.is_admin:
        return true()
    if not actor.teams:
        return false()
    return tickets.c.team_id.in_(sorted(actor.teams))


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def json_list_contains(column: Any, dialect: str, tag: str) -> Any:
    """`tag` is an element of the JSON list in `column`, on either dialect."""
    if dialect == "postgresql":
        return cast(column, JSONB).contains(cast(literal([tag], JSON), JSONB))
    each = func.json_each(column).table_valued("value")
    return exists(select(literal(1)).select_from(each).where(each.c.value == tag))


async def _search(conn: AsyncConnection, q: str, phone_region: str) -> Any:
    """A ticket number, an email or a phone number is looked up exactly (by index); other
    text matches names, identities, subjects and message text (a scan)."""
    q = q.strip()[:200]
    if m := _TICKET.match(q):
        return tickets.c.id == int(m.group(1))
    exact = None
    if "@" in q and (email := normalize_email(q)):
        exact = ("email", email)
    elif _PHONEISH.match(q) and (phone := normalize_phone(q, phone_region)):
        exact = ("phone", phone)
    if exact is not None:
        # Resolved first, so the planner sees a short list of customers, not a subquery.
        owners = await conn.execute(
            select(identities.c.customer_id).where(
                identities.c.kind == exact[0], identities.c.value == exact[1]
            )
        )
        return tickets.c.customer_id.in_(sorted({r.customer_id for r in owners}))
    if q.isascii() and q.isdigit() and len(q) <= 18:
        return tickets.c.id == int(q)
    pattern = _like(q)
    who = select(identities.c.customer_id).where(identities.c.value.ilike(pattern, escape="\\"))
    named = select(customers.c.id).where(customers.c.display_name.ilike(pattern, escape="\\"))
    said = exists().where(
        messages.c.ticket_id == tickets.c.id, messages.c.body_text.ilike(pattern, escape="\\")
    )
    return or_(
        tickets.c.customer_id.in_(who),
        tickets.c.customer_id.in_(named),
        tickets.c.subject.ilike(pattern, escape="\\"),
        said,
    )


async def _filtered(
    conn: AsyncConnection, actor: Actor, f: TicketFilter, phone_region: str
) -> list[Any]:
    dialect = conn.dialect.name
    where = [visible_to(actor)]
    if f.status == "open":
        where.append(tickets.c.status.in_(OPEN_STATUSES))
    elif f.status:
        where.append(tickets.c.status == f.status)
    if f.channel:
        where.append(tickets.c.channel == f.channel)
    if f.assignee == "none":
        where.append(tickets.c.assignee.is_(None))
    elif f.assignee:
        where.append(tickets.c.assignee == f.assignee)
    if f.priority:
        where.append(tickets.c.priority == f.priority)
    if f.team:
        where.append(tickets.c.team_id == f.team)
    if f.customer_id is not None:
        where.append(tickets.c.customer_id == f.customer_id)
    if f.tag:
        where.append(json_list_contains(tickets.c.tags, dialect, f.tag))
    if f.q and f.q.strip():
        where.append(await _search(conn, f.q, phone_region))
    if f.sla is not None:
        where.append(_sla_where(f.sla, utcnow()))
    return where


def _sla_where(which: str, now: datetime) -> Any:
    due = tickets.c.sla_due_at
    if which == "breached":
        return due <= now
    return and_(due > now, due <= now + DUE_SOON)


def _order(f: TicketFilter) -> tuple[Any, ...]:
    if f.sort == "due":
        return (tickets.c.sla_due_at.asc().nulls_last(), tickets.c.id.asc())
    return (tickets.c.last_message_at.desc(), tickets.c.id.desc())


_LIST_COLUMNS = (
    tickets.c.id,
    tickets.c.customer_id,
    tickets.c.channel,
    tickets.c.connector_id,
    tickets.c.team_id,
    tickets.c.status,
    tickets.c.priority,
    tickets.c.subject,
    tickets.c.tags,
    tickets.c.assignee,
    tickets.c.created_at,
    tickets.c.updated_at,
    tickets.c.last_message_at,
    tickets.c.sla_due_at,
)


async def list_tickets(
    conn: AsyncConnection, actor: Actor, f: TicketFilter, phone_region: str
) -> list[dict[str, Any]]:
    order = _order(f)
    # The page's ids first: on the queue index that needs no table rows, so only the
    # fifty shown are read and joined, not every open ticket of the team.
    page = (
        select(tickets.c.id)
        .where(and_(*await _filtered(conn, actor, f, phone_region)))
        .order_by(*order)
        .limit(f.limit)
        .offset(f.offset)
    )
    query = (
        select(*_LIST_COLUMNS, customers.c.display_name.label("customer_name"))
        .join(customers, customers.c.id == tickets.c.customer_id)
        .where(tickets.c.id.in_(page.scalar_subquery()))
        .order_by(*order)
    )
    now = utcnow()
    return [
        {**r._mapping, "ref": ticket_ref(r.id), "sla_state": sla_state(r.sla_due_at, now)}
        for r in await conn.execute(query)
    ]


async def my_sla_counts(conn: AsyncConnection, actor: Actor) -> dict[str, int]:
    """The actor's own open tickets past a deadline, and due within the hour: the notice
    an assignee sees on the queue page, beside the team channel's warnings."""
    now = utcnow()
    due = tickets.c.sla_due_at
    mine = and_(tickets.c.assignee == actor.username, tickets.c.status.in_(OPEN_STATUSES))
    row = (
        await conn.execute(
            select(
                func.count().filter(due <= now),
                func.count().filter(and_(due > now, due <= now + DUE_SOON)),
            ).where(mine, due.is_not(None))
        )
    ).one()
    return {"breached": int(row[0]), "due_soon": int(row[1])}


async def queue_counts(conn: AsyncConnection, actor: Actor) -> dict[str, dict[str, int]]:
    """Open tickets per visible team and status."""
    rows = await conn.execute(
        select(tickets.c.team_id, tickets.c.status, func.count())
        .where(visible_to(actor), tickets.c.status.in_(OPEN_STATUSES))
        .group_by(tickets.c.team_id, tickets.c.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for team_id, status, n in rows:
        counts.setdefault(team_id, {})[status] = int(n)
    return counts


async def newest_ticket_id(conn: AsyncConnection, actor: Actor) -> int:
    value = (await conn.execute(select(func.max(tickets.c.id)).where(visible_to(actor)))).scalar()
    return int(value or 0)


async def load_ticket(conn: AsyncConnection, ticket_id: int) -> Any | None:
    """The ticket with what its page shows beside it: customer name and zone, team name."""
    return (
        await conn.execute(
            select(
                tickets,
                customers.c.display_name.label("customer_name"),
                customers.c.timezone.label("customer_timezone"),
                teams.c.name.label("team_name"),
            )
            .join(customers, customers.c.id == tickets.c.customer_id)
            .join(teams, teams.c.id == tickets.c.team_id)
            .where(tickets.c.id == ticket_id)
        )
    ).first()


async def ticket_timezone(conn: AsyncConnection, ticket_id: int) -> str | None:
    """The time zone of the ticket's customer; None for no such ticket."""
    return (
        await conn.execute(
            select(customers.c.timezone)
            .join(tickets, tickets.c.customer_id == customers.c.id)
            .where(tickets.c.id == ticket_id)
        )
    ).scalar_one_or_none()


async def attachment_file(conn: AsyncConnection, attachment_id: int) -> Any | None:
    """The attachment with its content and the ticket of its message."""
    return (
        await conn.execute(
            select(attachments, messages.c.ticket_id)
            .join(messages, messages.c.id == attachments.c.message_id)
            .where(attachments.c.id == attachment_id)
        )
    ).first()


@dataclass(frozen=True)
class Entry:
    """One item of a conversation: a message in, a message out, or an internal note."""

    kind: str  # in | out | note
    id: int
    at: datetime
    author: str | None
    channel: str | None
    subject: str | None
    text: str
    html: str | None  # raw, as received: sanitize before showing
    delivery: str | None  # outbox status of an outgoing message
    attachments: tuple[dict[str, Any], ...] = ()
    scheduled: datetime | None = None  # a reply waiting for its "send later" time
    # What the channel reported since (hub.channels.message_events): "read", "edited", "deleted",
    # the customer's reaction.
    marks: tuple[str, ...] = ()


async def conversation(conn: AsyncConnection, ticket_id: int) -> list[Entry]:
    msgs = (await conn.execute(select(messages).where(messages.c.ticket_id == ticket_id))).all()
    # Delivery state by the outbox's ticket index: outbox.message_id has none.
    now = utcnow()
    delivery: dict[int, tuple[str, datetime | None]] = {
        r.message_id: (r.status, r.next_attempt_at if r.next_attempt_at > now else None)
        for r in await conn.execute(
            select(outbox.c.message_id, outbox.c.status, outbox.c.next_attempt_at).where(
                outbox.c.ticket_id == ticket_id
            )
        )
    }
    files: dict[int, list[dict[str, Any]]] = {}
    if msgs:
        rows = await conn.execute(
            select(
                attachments.c.id,
                attachments.c.message_id,
                attachments.c.filename,
                attachments.c.content_type,
                attachments.c.size,
                attachments.c.dropped_reason,
            ).where(attachments.c.message_id.in_([m.id for m in msgs]))
        )
        for a in rows:
            files.setdefault(a.message_id, []).append(dict(a._mapping))
    reactions = await _reactions(conn, [m.id for m in msgs])
    entries = []
    for m in msgs:
        state, due = delivery.get(m.id, (None, None))
        entries.append(
            Entry(
                m.direction,
                m.id,
                m.received_at if m.direction == "in" else m.created_at,
                m.sender if m.direction == "in" else (m.meta or {}).get("agent"),
                m.channel,
                m.subject,
                m.body_text,
                m.body_html,
                state,
                tuple(files.get(m.id, ())),
                due if state == "pending" else None,
                _marks(m, reactions.get(m.id)),
            )
        )
    notes = await conn.execute(select(ticket_notes).where(ticket_notes.c.ticket_id == ticket_id))
    entries += [
        Entry("note", n.id, n.created_at, n.author, None, None, n.body_text, None, None)
        for n in notes
    ]
    entries.sort(key=lambda e: (e.at, e.kind == "note", e.id))
    return entries


def _marks(m: Any, reaction: str | None) -> tuple[str, ...]:
    marks = []
    if m.delivery_status:
        marks.append(m.delivery_status)
    if m.edited_at is not None:
        marks.append("edited")
    if m.deleted_at is not None:
        marks.append("deleted by the sender")
    if reaction:
        marks.append(f"reaction {reaction}")
    return tuple(marks)


async def _reactions(conn: AsyncConnection, message_ids: list[int]) -> dict[int, str]:
    """Each message's latest reaction ("" when it was taken back)."""
    if not message_ids:
        return {}
    rows = await conn.execute(
        select(message_events.c.message_id, message_events.c.value)
        .where(message_events.c.message_id.in_(message_ids), message_events.c.kind == "reaction")
        .order_by(message_events.c.occurred_at, message_events.c.id)
    )
    return {r.message_id: r.value or "" for r in rows}
