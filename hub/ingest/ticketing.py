"""Which ticket each message joins: routed, then threaded onto an open ticket, onto the
ticket its threading hints name, or onto a ticket opened for it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.assignment.policy import Waiting
from hub.config.assignment import language_of
from hub.ingest.arrival import Arrival, conversation, has_hints
from hub.ingest.bounces import ticket_of_bounced
from hub.ingest.setup import IngestSetup
from hub.store.many import Many
from hub.store.schema import messages
from hub.tickets.records import (
    Ticket,
    TicketRequest,
    find_or_open_tickets,
    open_ticket,
    open_tickets,
    touch_ticket,
)
from hub.tickets.routing import RouteInput
from hub.tickets.thread_match import ThreadHints, match_thread, new_topics


def route(setup: IngestSetup, fresh: list[Arrival]) -> None:
    """Sets each arrival's `request`: the ticket it would open, with the rule that routed it."""
    for a in fresh:
        msg, customer = a.msg, a.customer
        a.request = TicketRequest(
            customer_id=customer.id,
            channel=msg.channel,
            connector_id=msg.connector_id,
            subject=msg.subject,
            route=setup.router.route(
                RouteInput(
                    channel=msg.channel,
                    connector_id=msg.connector_id,
                    subject=msg.subject or "",
                    body=msg.text,
                    customer_tags=frozenset(customer.tags),
                    locale=customer.locale,
                )
            ),
            conversation=conversation(msg),
        )


async def thread(
    setup: IngestSetup,
    conn: AsyncConnection,
    ticketed: list[Arrival],
    now: datetime,
    new_customers: set[int],
) -> None:
    """Sets each arrival's `ticket`, and `opened` where it was opened for it.

    Chat and forms thread onto the customer's open ticket on the channel. A message
    with threading hints (email) goes to the ticket its hints name, if it is the
    sender's own; otherwise, and for every other email, a new ticket: a new subject
    is a new topic. Hinted messages go last and one by one, so a reply finds the
    ticket its original got earlier in the same batch.
    """
    explicit = setup.explicit_threading
    ongoing = [a for a in ticketed if not has_hints(a.msg) and a.msg.connector_id not in explicit]
    if ongoing:
        found = await find_or_open_tickets(
            setup.store,
            conn,
            [a.request for a in ongoing],
            now,
            new_customers=new_customers,
        )
        for a, (ticket, opened) in zip(ongoing, found, strict=True):
            a.ticket, a.opened = ticket, opened
    await _link(conn, ongoing)
    # New topics by mail (no hint, or none that names a ticket: a reply to mail the
    # hub never saw): a ticket each, opened in one statement.
    rest = [a for a in ticketed if a.ticket is None and not a.msg.bounced_message_ids
            and a.msg.connector_id in explicit]  # fmt: skip
    fresh = await new_topics(
        conn,
        [ThreadHints(m.in_reply_to, m.references, m.subject, m.thread_marker, m.channel)
         for m in (a.msg for a in rest)],
        {a.msg.external_id for a in ticketed},
    )  # fmt: skip
    topics = [a for a, new in zip(rest, fresh, strict=True) if new]
    for a, ticket in zip(
        topics, await open_tickets(setup.store, conn, [a.request for a in topics], now),
        strict=True,
    ):  # fmt: skip
        a.ticket, a.opened = ticket, True
    await _link(conn, topics)
    for a in ticketed:
        if a.ticket is not None:
            continue
        a.ticket, a.opened = await _hinted_ticket(setup, conn, a, now)
        await _link(conn, [a])


async def _hinted_ticket(
    setup: IngestSetup, conn: AsyncConnection, a: Arrival, now: datetime
) -> tuple[Ticket, bool]:
    msg, req = a.msg, a.request
    if msg.bounced_message_ids:
        # A bounce belongs with the ticket of the mail that bounced, whoever sent it.
        ticket_id = await ticket_of_bounced(conn, msg.bounced_message_ids)
        if ticket_id is not None:
            return await touch_ticket(conn, ticket_id, now), False
    if has_hints(msg):
        hints = ThreadHints(
            msg.in_reply_to, msg.references, msg.subject, msg.thread_marker, msg.channel
        )
        match = await match_thread(conn, hints, req.customer_id, setup.secret)
        if match is not None and match.status != "closed":
            return await touch_ticket(conn, match.ticket_id, now), False
    if msg.connector_id not in setup.explicit_threading:
        found = await find_or_open_tickets(setup.store, conn, [req], now)
        return found[0]
    return await open_ticket(setup.store, conn, req, now), True


async def assign(
    setup: IngestSetup, conn: AsyncConnection, fresh: list[Arrival], now: datetime
) -> None:
    """Tickets opened for teams that assign automatically get their agent now."""
    if not setup.assigner.active:
        return
    opened = [
        (
            a.ticket.team_id,
            Waiting(
                a.ticket.id, language_of(a.customer.locale), a.msg.channel, a.ticket.created_at
            ),
        )
        for a in fresh
        if a.ticket is not None and a.opened
    ]
    if opened:
        await setup.assigner.assign_opened(conn, opened, now)


async def _link(conn: AsyncConnection, linked: list[Arrival]) -> None:
    """Files each message under its ticket and customer."""
    rows = [
        {"message_id": a.message_id, "ticket_id": a.ticket.id, "customer_id": a.request.customer_id}
        for a in linked
        if a.ticket is not None
    ]
    if rows:
        await _LINK.run(conn, rows)


_LINK = Many(
    update(messages)
    .where(messages.c.id == bindparam("message_id"))
    .values(ticket_id=bindparam("ticket_id"), customer_id=bindparam("customer_id")),
    deferred=True,
)
