"""The chat bot's turn in a batch: what it decides for each chat message (hub.faq.chatbot),
then what that stores: a closed ticket, a withdrawn consent, the chat's history joining
the ticket it was handed over to, and what the bot says."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.customers.consent import OPT_OUT, record_consent
from hub.faq.chatbot import decide
from hub.ingest.addresses import Normalize
from hub.ingest.arrival import Arrival, command, conversation, message_ticket_key
from hub.ingest.setup import IngestSetup
from hub.messages import InboundMessage
from hub.outbox.enqueue import Outbound
from hub.store.schema import messages, tickets
from hub.tickets.records import close_open_ticket


async def bot_turns(setup: IngestSetup, conn: AsyncConnection, fresh: list[Arrival]) -> None:
    """Sets `turn` on each message from a chat channel."""
    chat = [a for a in fresh if a.msg.connector_id in setup.chat_connectors]
    if not chat:
        return
    keys = {message_ticket_key(a.msg, a.customer.id) for a in chat}
    open_now = {
        r.open_key
        for r in await conn.execute(
            select(tickets.c.open_key).where(tickets.c.open_key.in_(sorted(keys)))
        )
    }
    for a in chat:
        msg, customer = a.msg, a.customer
        key = message_ticket_key(msg, customer.id)
        turn = decide(command(msg), msg.text, customer.locale, key in open_now, setup.faq)
        a.turn = turn
        if turn.action == "ticket":
            open_now.add(key)  # a later message of this batch finds it open
        elif turn.action == "close":
            open_now.discard(key)


async def bot_effects(
    setup: IngestSetup,
    conn: AsyncConnection,
    fresh: list[Arrival],
    now: datetime,
    normalize: Normalize,
) -> None:
    """Stores the bot's side of each chat turn and sets `bot_reply`. A ticket an /end
    closes becomes the message's `ticket` (not `opened`), so the sender is told it."""
    for a in fresh:
        turn = a.turn
        if turn is None:
            continue
        msg, customer = a.msg, a.customer
        if turn.action == "close":
            closed = await close_open_ticket(conn, message_ticket_key(msg, customer.id), now)
            if closed is not None:
                a.ticket, a.opened = closed, False
        elif turn.action == "opt_out":
            await record_consent(
                setup.store, conn, customer.id, msg.sender.kind, OPT_OUT, "chat command /stop"
            )
        ticket = a.ticket
        if ticket is not None:
            # Everything the bot said before the hand-over joins the ticket's history.
            await conn.execute(
                update(messages)
                .where(_before_handover(msg, customer.id))
                .values(ticket_id=ticket.id)
            )
        await conn.execute(
            update(messages)
            .where(messages.c.id == a.message_id)
            .values(customer_id=customer.id, ticket_id=ticket.id if ticket else None)
        )
        a.bot_reply = _bot_reply(setup, a, normalize)


def _bot_reply(setup: IngestSetup, a: Arrival, normalize: Normalize) -> Outbound | None:
    msg, customer, ticket, turn = a.msg, a.customer, a.ticket, a.turn
    assert turn is not None
    route = setup.reply_routes.get(msg.connector_id)
    if route is None or msg.reply_to is None:
        return None
    person = {"name": customer.display_name, "locale": customer.locale}
    if turn.faq_match is not None and setup.faq is not None:
        text, locale, kind = (
            setup.faq.answer(turn.faq_match, customer.locale, {"customer": person}),
            customer.locale,
            "bot:faq",
        )
    elif turn.template is not None:
        team = ticket.team_id if ticket else ""
        rendered = setup.replies.render(
            turn.template,
            customer.locale,
            {
                "customer": person,
                "ticket": {"ref": ticket.ref if ticket else ""},
                "team": {"name": setup.team_names.get(team, "")},
                "timezone": customer.timezone,
            },
        )
        text, locale, kind = rendered.text.strip(), rendered.locale, f"bot:{turn.template}"
    else:
        return None
    return Outbound(
        connector_id=route.connector_id,
        ticket_id=ticket.id if ticket else None,
        customer_id=customer.id,
        to=normalize(msg.reply_to) or msg.reply_to,
        kind=kind,
        subject=None,
        text=text,
        html=None,
        auto_submitted=True,
        language=locale,
        conversation=conversation(msg),
    )


def _before_handover(msg: InboundMessage, customer_id: int) -> ColumnElement[bool]:
    """The chat's messages no ticket holds yet: the customer's own with the bot, or in a
    shared conversation everyone's there (and neither holds the other's)."""
    unticketed = and_(messages.c.connector_id == msg.connector_id, messages.c.ticket_id.is_(None))
    shared = conversation(msg)
    if shared is None:
        return and_(
            unticketed,
            messages.c.customer_id == customer_id,
            messages.c.conversation.is_(None),
        )
    return and_(unticketed, messages.c.conversation == shared)
