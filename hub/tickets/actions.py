"""What agents do to a ticket: change its fields, answer the customer, add internal notes.

The inbox and the REST API both call these, so they enforce the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.agents.accounts import Actor, agent_usernames
from hub.channels.directory import ReplyRoute
from hub.channels.reply_window import (
    BoundWindow,
    WindowClosed,
    WindowedReply,
    window_template,
)
from hub.messages import Address
from hub.notify.events import NotifyRules, TicketEvent, record_events
from hub.outbox.enqueue import enqueue_outbound
from hub.store import Store, utcnow
from hub.store.schema import customers, identities, messages, outbox, ticket_notes, tickets
from hub.tickets.records import OPEN_STATUSES, conversation_address, ticket_key, ticket_ref


class TicketNotFound(LookupError):
    pass


class NotAllowed(PermissionError):
    """The actor may not see or change this ticket (another team's)."""


class ActionRefused(ValueError):
    """The change is understood but cannot be made; the message says why (HTTP 409)."""


_UNSET: Any = object()


@dataclass(frozen=True)
class TicketChange:
    status: str | None = None
    priority: str | None = None
    assignee: str | None = _UNSET  # None unassigns; _UNSET leaves it
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ReplyResult:
    message_id: int
    outbox_id: int
    connector_id: str
    recipient: str
    send_at: str | None = None


async def ticket_for(conn: AsyncConnection, actor: Actor, ticket_id: int) -> Any:
    row = (await conn.execute(select(tickets).where(tickets.c.id == ticket_id))).first()
    if row is None:
        raise TicketNotFound(ticket_id)
    if not actor.can_see_team(row.team_id):
        raise NotAllowed(ticket_id)
    return row


async def _status_values(conn: AsyncConnection, row: Any, status: str) -> dict[str, Any]:
    """The new status, and the open key that keeps one open ticket per customer and channel
    (or per shared conversation)."""
    if status not in OPEN_STATUSES:
        return {"status": status, "open_key": None}
    key = ticket_key(row.customer_id, row.channel, row.connector_id, row.conversation)
    if row.open_key is None:
        clash = (
            await conn.execute(select(tickets.c.id).where(tickets.c.open_key == key))
        ).scalar_one_or_none()
        if clash is not None:
            whose = "the conversation" if row.conversation else "the customer"
            raise ActionRefused(
                f"{whose} already has an open ticket on this channel "
                f"({ticket_ref(clash)}); reopen that one instead"
            )
    return {"status": status, "open_key": key}


async def update_ticket(
    store: Store,
    actor: Actor,
    ticket_id: int,
    change: TicketChange,
    *,
    notify: NotifyRules,
) -> None:
    """Apply the change; an escalation (priority raised, a VIP tag added) is queued for
    the channels `notify` names for the ticket's routing rule, in the same transaction."""
    async with store.write() as conn:
        row = await ticket_for(conn, actor, ticket_id)
        values: dict[str, Any] = {}
        if change.status is not None and change.status != row.status:
            values.update(await _status_values(conn, row, change.status))
        if change.priority is not None:
            values["priority"] = change.priority
        if change.tags is not None:
            values["tags"] = sorted(set(change.tags))
        if change.assignee is not _UNSET and change.assignee != row.assignee:
            if change.assignee is not None and change.assignee not in await agent_usernames(
                conn, row.team_id
            ):
                raise ActionRefused(f"{change.assignee!r} is not an agent of team {row.team_id}")
            values["assignee"] = change.assignee
        if values:
            values["updated_at"] = utcnow()
            await conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(values))
        reasons = notify.escalations(
            row.priority, values.get("priority", row.priority), row.tags, values.get("tags", ())
        )
        events = [TicketEvent(ticket_id, row.route_rule, "escalated", r) for r in reasons]
        await record_events(store, conn, notify, events, utcnow())


async def add_note(store: Store, actor: Actor, ticket_id: int, text: str) -> int:
    async with store.write() as conn:
        await ticket_for(conn, actor, ticket_id)
        now = utcnow()
        await conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(updated_at=now))
        return int(
            (
                await conn.execute(
                    ticket_notes.insert()
                    .values(
                        ticket_id=ticket_id,
                        agent_id=actor.agent_id,
                        author=actor.name,
                        body_text=text,
                        created_at=now,
                    )
                    .returning(ticket_notes.c.id)
                )
            ).scalar_one()
        )


async def _recipient(
    conn: AsyncConnection, ticket: Any, last_in: Any, route: ReplyRoute, kinds: tuple[str, ...]
) -> Address:
    if ticket.conversation is not None and route.connector_id == ticket.connector_id:
        # A shared conversation (a group chat) is answered where it is held, for all in it.
        return conversation_address(ticket.conversation)
    name = (
        await conn.execute(
            select(customers.c.display_name).where(customers.c.id == ticket.customer_id)
        )
    ).scalar_one()
    reachable = (
        await conn.execute(
            select(identities.c.kind, identities.c.value)
            .where(
                identities.c.customer_id == ticket.customer_id,
                identities.c.unreachable.is_(False),
            )
            .order_by(identities.c.id)
        )
    ).all()
    if kinds:
        usable = [i for i in reachable if i.kind in kinds]
    elif route.connector_id == last_in.connector_id:
        # A channel that answers itself (a chat) writes back to whoever wrote.
        usable = [i for i in reachable if i.value == last_in.sender]
    else:
        raise ActionRefused(f"connector {route.connector_id!r} declares no address kind")
    # The address the customer wrote from, else their newest one of a kind the route serves.
    chosen = next((i for i in usable if i.value == last_in.sender), usable[-1] if usable else None)
    if chosen is None:
        wanted = " or ".join(kinds) or "the sender's"
        raise ActionRefused(f"this customer has no reachable {wanted} address to answer by")
    return Address(chosen.kind, chosen.value, name)


async def reply(
    store: Store,
    actor: Actor,
    ticket_id: int,
    text: str,
    *,
    routes: dict[str, ReplyRoute],
    kinds: dict[str, tuple[str, ...]],
    status: str | None = None,
    via: str | None = None,
    send_at: datetime | None = None,
    on_outbox: Callable[[], None] = lambda: None,
    windows: dict[str, BoundWindow] | None = None,
    template: bool = False,
) -> ReplyResult:
    """Queue the reply over the channel the customer last wrote on (or `via`, a connector
    the agent picked), in one transaction with the ticket's change."""
    async with store.write() as conn:
        ticket = await ticket_for(conn, actor, ticket_id)
        last_in = (
            await conn.execute(
                select(messages)
                .where(messages.c.ticket_id == ticket_id, messages.c.direction == "in")
                .order_by(messages.c.received_at.desc(), messages.c.id.desc())
                .limit(1)
            )
        ).first()
        if last_in is None:
            raise ActionRefused("the ticket has no message from the customer to answer")
        if via is not None:
            # The agent picked the channel: any connector that delivers to some identity.
            if not kinds.get(via):
                raise ActionRefused(f"{via!r} is not a connector that can carry a reply")
            route: ReplyRoute | None = ReplyRoute(via)
        else:
            route = routes.get(last_in.connector_id)
        if route is None:
            raise ActionRefused(f"messages from {last_in.connector_id!r} cannot be answered")
        to = await _recipient(conn, ticket, last_in, route, kinds.get(route.connector_id, ()))
        locale = (
            await conn.execute(
                select(customers.c.locale).where(customers.c.id == ticket.customer_id)
            )
        ).scalar_one()
        now = utcnow()
        window = (windows or {}).get(route.connector_id)
        template_ref = None
        if window is not None:
            at = send_at if send_at is not None and send_at > now else now
            try:
                template_ref = await window_template(
                    conn,
                    window,
                    WindowedReply(route.connector_id, ticket.customer_id, locale, at, template),
                )
            except WindowClosed as exc:
                raise ActionRefused(str(exc)) from None
        # A channel without a reply window has no templates to ask for: the text goes as is.
        ref = ticket_ref(ticket_id)
        subject = f"Re: {ticket.subject} [#{ref}]" if ticket.subject else f"Your request [#{ref}]"
        # A string, whatever the channel kept: Telegram's message ids are numbers.
        found_id = (last_in.meta or {}).get("message_id")
        reply_to_id = str(found_id) if found_id is not None else None
        outbox_id = await enqueue_outbound(
            store,
            conn,
            connector_id=route.connector_id,
            ticket_id=ticket_id,
            customer_id=ticket.customer_id,
            to=to,
            kind="agent_reply",
            subject=subject,
            text=text,
            html=None,
            auto_submitted=False,
            language=locale,
            now=now,
            in_reply_to=reply_to_id,
            references=(reply_to_id,) if reply_to_id else (),
            template=template_ref,
        )
        message_id = (
            await conn.execute(select(outbox.c.message_id).where(outbox.c.id == outbox_id))
        ).scalar_one()
        meta = {"kind": "agent_reply", "to": to.value, "agent": actor.name}
        if template_ref is not None:
            meta["template"] = template_ref
        if send_at is not None and send_at > now:
            # "Send later": the outbox worker only claims rows that are due.
            await conn.execute(
                update(outbox).where(outbox.c.id == outbox_id).values(next_attempt_at=send_at)
            )
            meta["send_at"] = send_at.astimezone(UTC).isoformat()
        # enqueue_outbound records kind and recipient; the inbox also shows who answered.
        await conn.execute(update(messages).where(messages.c.id == message_id).values(meta=meta))
        new_status = status or ("open" if ticket.status == "new" else None)
        values: dict[str, Any] = {"updated_at": now}
        if new_status is not None and new_status != ticket.status:
            values.update(await _status_values(conn, ticket, new_status))
        await conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(values))
    on_outbox()
    return ReplyResult(
        int(message_id), int(outbox_id), route.connector_id, to.value, meta.get("send_at")
    )


async def cancel_scheduled(store: Store, actor: Actor, ticket_id: int, message_id: int) -> None:
    """Withdraw a reply scheduled for later, while the outbox has not picked it up."""
    async with store.write() as conn:
        await ticket_for(conn, actor, ticket_id)
        now = utcnow()
        done = await conn.execute(
            update(outbox)
            .where(
                outbox.c.ticket_id == ticket_id,
                outbox.c.message_id == message_id,
                outbox.c.status == "pending",
                outbox.c.next_attempt_at > now,
                outbox.c.lease_until.is_(None),
            )
            .values(status="cancelled", last_error=f"cancelled by {actor.name}")
        )
        if not done.rowcount:
            raise ActionRefused("only a reply still waiting for its time can be cancelled")
