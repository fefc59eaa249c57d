"""An agent answers the customer (now, or scheduled for later), or withdraws a scheduled
answer the outbox has not sent yet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.actions.measure import StatusChange, measure_reply
from hub.actions.recipient import recipient
from hub.actions.solved import AfterChange, StatusMove, after_status_change
from hub.actions.ticket_status import ActionRefused, status_values
from hub.agents.accounts import Actor
from hub.channels.directory import ChannelDirectory, ReplyRoute
from hub.channels.reply_window import WindowClosed, WindowedReply, window_template
from hub.outbox.enqueue import enqueue_outbound
from hub.outbox.entries import cancel_scheduled_send
from hub.sla.clocks import SlaClocks
from hub.store import Store, utcnow
from hub.store.schema import customers, messages, outbox, tickets
from hub.tickets.access import ticket_for
from hub.tickets.records import ticket_ref
from hub.tickets.status_events import emit_status_change


@dataclass(frozen=True)
class AgentReply:
    """What the agent wrote and how it should go; the inbox form and the API both give it."""

    ticket_id: int
    text: str
    # The ticket's new status; unset, a new ticket becomes open.
    status: str | None = None
    # A connector the agent picked instead of the one the customer last wrote on.
    via: str | None = None
    send_at: datetime | None = None
    # Send an approved template where the channel's reply window has closed.
    template: bool = False


@dataclass(frozen=True)
class ReplyResult:
    message_id: int
    outbox_id: int
    connector_id: str
    recipient: str
    send_at: str | None = None


async def reply(
    store: Store,
    actor: Actor,
    draft: AgentReply,
    channels: ChannelDirectory,
    on_outbox: Callable[[], None] = lambda: None,
    *,
    after: AfterChange,
) -> ReplyResult:
    """Queue the reply over the channel the customer last wrote on (or `via`, a connector
    the agent picked), in one transaction with the ticket's change, its metric events (a
    reply scheduled for later counts when it is due) and its SLA clocks (such a reply
    answers nobody yet: the clocks run on)."""
    ticket_id, measure, sla = draft.ticket_id, after.measure, after.sla
    routes, kinds, windows = (
        channels.reply_routes(),
        channels.address_kinds(),
        channels.reply_windows(),
    )
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
        if draft.via is not None:
            # The agent picked the channel: any connector that delivers to some identity.
            if not kinds.get(draft.via):
                raise ActionRefused(f"{draft.via!r} is not a connector that can carry a reply")
            route: ReplyRoute | None = ReplyRoute(draft.via)
        else:
            route = routes.get(last_in.connector_id)
        if route is None:
            raise ActionRefused(f"messages from {last_in.connector_id!r} cannot be answered")
        to = await recipient(conn, ticket, last_in, route, kinds.get(route.connector_id, ()))
        locale = (
            await conn.execute(
                select(customers.c.locale).where(customers.c.id == ticket.customer_id)
            )
        ).scalar_one()
        now = measure.clock()
        window = windows.get(route.connector_id)
        template_ref = None
        if window is not None:
            at = draft.send_at if draft.send_at is not None and draft.send_at > now else now
            try:
                template_ref = await window_template(
                    conn,
                    window,
                    WindowedReply(
                        route.connector_id, ticket.customer_id, locale, at, draft.template
                    ),
                )
            except WindowClosed as exc:
                raise ActionRefused(str(exc)) from None
        # A channel without a reply window has no templates to ask for: the text goes as is.
        subject, reply_to_id = _threading(ticket, last_in)
        outbox_id = await enqueue_outbound(
            conn,
            connector_id=route.connector_id,
            ticket_id=ticket_id,
            customer_id=ticket.customer_id,
            to=to,
            kind="agent_reply",
            subject=subject,
            text=draft.text,
            html=None,
            auto_submitted=False,
            language=locale,
            now=now,
            in_reply_to=reply_to_id,
            references=(reply_to_id,) if reply_to_id else (),
            template=template_ref,
            send_at=draft.send_at,
        )
        message_id = (
            await conn.execute(select(outbox.c.message_id).where(outbox.c.id == outbox_id))
        ).scalar_one()
        meta = _meta(
            actor,
            to.value,
            template_ref,
            draft.send_at if draft.send_at is not None and draft.send_at > now else None,
        )
        # enqueue_outbound records kind and recipient; the inbox also shows who answered.
        await conn.execute(update(messages).where(messages.c.id == message_id).values(meta=meta))
        new_status = draft.status or ("open" if ticket.status == "new" else None)
        values: dict[str, Any] = {"updated_at": now, **await _status(conn, ticket, new_status, now)}
        await conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(values))
        # An integration's message is no person's reply: it counts as outgoing only.
        change = StatusChange(now, actor.username if actor.kind == "agent" else None)
        due = draft.send_at if draft.send_at is not None and draft.send_at > now else now
        await measure_reply(conn, measure, ticket, change, due, new_status)
        move = StatusMove(ticket, values.get("status"), now, not_before=due)
        await after_status_change(store, conn, after.on_solve, move)
        if draft.send_at is None or draft.send_at <= now:
            await sla.agent_replied(conn, ticket_id, now)
        if "status" in values:
            await sla.status_changed(conn, [ticket_id], now)
    on_outbox()
    return ReplyResult(
        int(message_id), int(outbox_id), route.connector_id, to.value, meta.get("send_at")
    )


def _threading(ticket: Any, last_in: Any) -> tuple[str, str | None]:
    """The reply's subject, and the channel's id of the message it answers."""
    ref = ticket_ref(ticket.id)
    subject = f"Re: {ticket.subject} [#{ref}]" if ticket.subject else f"Your request [#{ref}]"
    # A string, whatever the channel kept: Telegram's message ids are numbers.
    found_id = (last_in.meta or {}).get("message_id")
    return subject, (str(found_id) if found_id is not None else None)


def _meta(
    actor: Actor, to: str, template_ref: str | None, later: datetime | None
) -> dict[str, Any]:
    # The username too: ratings and reports credit the agent by it (hub.surveys).
    meta: dict[str, Any] = {
        "kind": "agent_reply",
        "to": to,
        "agent": actor.name,
        "agent_username": actor.username,
    }
    if template_ref is not None:
        meta["template"] = template_ref
    if later is not None:
        meta["send_at"] = later.astimezone(UTC).isoformat()
    return meta


async def _status(
    conn: AsyncConnection, ticket: Any, new_status: str | None, now: datetime
) -> dict[str, Any]:
    """The columns of the ticket's new status (none if it stays), its outgoing event recorded."""
    if new_status is None or new_status == ticket.status:
        return {}
    change = (ticket.status, new_status)
    await emit_status_change(conn, ticket.id, ticket.customer_id, change, now)
    return await status_values(conn, ticket, new_status)


async def cancel_scheduled(store: Store, actor: Actor, ticket_id: int, message_id: int) -> None:
    """Withdraw a reply scheduled for later, while the outbox has not picked it up."""
    async with store.write() as conn:
        await ticket_for(conn, actor, ticket_id)
        if not await cancel_scheduled_send(conn, ticket_id, message_id, actor.name, utcnow()):
            raise ActionRefused("only a reply still waiting for its time can be cancelled")


async def scheduled_reply_sent(
    sla: SlaClocks, conn: AsyncConnection, row: Any, now: datetime
) -> None:
    """In the transaction that marks an outbox row sent: a reply scheduled for later has
    just answered the customer, so its SLA clocks (first or next response) stop now, by the
    clocks' own clock; one sent at once stopped them when it was queued."""
    if row.kind != "agent_reply" or row.ticket_id is None or row.message_id is None:
        return
    meta = (
        await conn.execute(select(messages.c.meta).where(messages.c.id == row.message_id))
    ).scalar()
    if isinstance(meta, dict) and meta.get("send_at"):
        await sla.agent_replied(conn, row.ticket_id, sla.clock())
