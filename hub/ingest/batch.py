"""One group of messages through every step, in one transaction: dedupe -> match
customer -> route -> chat bot -> thread or open ticket -> notify -> store -> reply."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.outgoing import (
    CUSTOMER_CREATED,
    MESSAGE_RECEIVED,
    TICKET_CREATED,
    OutgoingEvent,
    emit,
)
from hub.ingest.acknowledge import acknowledge
from hub.ingest.addresses import Normalize, normalizer, sender_identities
from hub.ingest.arrival import Arrival, InvalidMessage
from hub.ingest.attachments import store_attachments
from hub.ingest.bounces import record_bounces
from hub.ingest.chat_bot import bot_effects, bot_turns
from hub.ingest.customer_match import match_customers
from hub.ingest.dedupe import answer_duplicates, store_inbound
from hub.ingest.measured import record_metrics
from hub.ingest.setup import IngestSetup
from hub.ingest.sla_clocks import move_clocks
from hub.ingest.ticketing import assign, route, thread
from hub.messages import InboundMessage, SubmitResult
from hub.notify.events import TicketEvent, record_events
from hub.outbox.enqueue import enqueue_outbound_many


async def ingest_batch(
    setup: IngestSetup, conn: AsyncConnection, msgs: list[InboundMessage], now: datetime
) -> list[SubmitResult | Exception]:
    """Ingest a group of messages in one transaction, with a few statements per batch;
    each message's result, in order.

    A round trip to the database (through aiosqlite's thread, or to PostgreSQL) costs
    far more than the work each one does; a batch of any size takes about ten. Where
    it meets another process's concurrent write, this raises, and the caller retries
    each message alone in a fresh transaction (`Pipeline.commit_alone`).
    """
    normalize = normalizer(setup.config.hub.phone_region)
    arrivals = [Arrival(msg, sender_identities(msg, normalize)) for msg in msgs]
    valid: list[Arrival] = []
    for a in arrivals:
        if a.addrs:
            valid.append(a)
        else:
            a.result = InvalidMessage("the message has no usable sender identity")
    if valid:
        fresh, duplicates = await store_inbound(setup.store, conn, valid, now)
        if fresh:
            await _ingest_fresh(setup, conn, fresh, now, normalize)
        if duplicates:
            # Looked up last: a redelivery of a message earlier in this batch sees its ticket.
            await answer_duplicates(conn, duplicates)
    return [a.result for a in arrivals]


async def _ingest_fresh(
    setup: IngestSetup,
    conn: AsyncConnection,
    fresh: list[Arrival],
    now: datetime,
    normalize: Normalize,
) -> None:
    await match_customers(setup.store, setup.config, conn, fresh)
    route(setup, fresh)
    await bot_turns(setup, conn, fresh)
    await thread(
        setup,
        conn,
        [a for a in fresh if a.turn is None or a.turn.action == "ticket"],
        now,
        new_customers={a.customer.id for a in fresh if a.new_customer},
    )
    # Rules with `notify` tell a team's channel; the sweep batches these rows.
    opened = [
        TicketEvent(a.ticket.id, a.request.route.rule, "opened")
        for a in fresh
        if a.ticket is not None and a.opened
    ]
    await record_events(setup.store, conn, setup.notify, opened, now)
    await bot_effects(setup, conn, fresh, now, normalize)
    await move_clocks(setup, conn, fresh, now)
    # After the clocks: the deadlines they set order the batch's tickets for assignment.
    await assign(setup, conn, fresh, now)
    await store_attachments(conn, fresh, now)
    await record_bounces(conn, fresh)
    await acknowledge(setup, conn, fresh, now, normalize)
    # Webhooks and CRM syncs hear of it from the same commit: one statement per batch.
    await emit(conn, [e for a in fresh for e in outgoing_events(a)], now)
    await enqueue_outbound_many(
        conn,
        [
            *(a.ack for a in fresh if a.ack is not None),
            *(a.bot_reply for a in fresh if a.bot_reply is not None),
        ],
        now=now,
    )
    await record_metrics(setup, conn, fresh, now)
    for a in fresh:
        ticket = a.ticket
        a.result = SubmitResult(
            a.message_id,
            ticket.id if ticket else None,
            ticket.ref if ticket else None,
            a.customer.id,
            duplicate=False,
        )


def outgoing_events(a: Arrival) -> list[OutgoingEvent]:
    """What integrations hear of one new message, in order: its customer if new, its
    ticket if opened for it, the message. Ids and routing only: the text stays in the hub
    (receivers read it through the API), so an erasure need not chase copies of it."""
    cid, ticket = a.customer.id, a.ticket
    msg = a.msg
    out = []
    if a.new_customer:
        out.append(
            OutgoingEvent(
                CUSTOMER_CREATED,
                {"customer_id": cid, "locale": a.customer.locale, "source": msg.channel},
                customer_id=cid,
            )
        )
    tid = ticket.id if ticket is not None else None
    if ticket is not None and a.opened:
        out.append(
            OutgoingEvent(
                TICKET_CREATED,
                {
                    "ticket_id": tid,
                    "ref": ticket.ref,
                    "customer_id": cid,
                    "channel": msg.channel,
                    "connector_id": msg.connector_id,
                    "team_id": ticket.team_id,
                    "priority": a.request.route.priority,
                    "subject": ticket.subject,
                },
                customer_id=cid,
                ticket_id=tid,
            )
        )
    out.append(
        OutgoingEvent(
            MESSAGE_RECEIVED,
            {
                "message_id": a.message_id,
                "ticket_id": tid,
                "customer_id": cid,
                "channel": msg.channel,
                "connector_id": msg.connector_id,
                "subject": msg.subject,
            },
            customer_id=cid,
            ticket_id=tid,
        )
    )
    return out
