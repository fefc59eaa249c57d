"""Acknowledging new tickets: the customer learns their ticket's reference, unless the
message was automatic, came from a chat (the bot's hand-over says it there), is our own
mail coming back, is too old to answer now (a backlog), or its sender got too many
automatic replies lately (the breaker)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.ingest.addresses import Normalize
from hub.ingest.arrival import Arrival
from hub.ingest.setup import IngestSetup
from hub.messages import InboundMessage
from hub.outbox.enqueue import Outbound
from hub.store.schema import outbox
from hub.tickets.thread_match import our_message_ids

# The pipeline's logger, whichever step speaks: operators filter on one name.
log = logging.getLogger("hub.ingest.pipeline")


async def acknowledge(
    setup: IngestSetup,
    conn: AsyncConnection,
    fresh: list[Arrival],
    now: datetime,
    normalize: Normalize,
) -> None:
    """Sets `ack` on each message whose ticket was opened for it and gets an answer."""
    wanted = [
        a
        for a in fresh
        if a.ticket is not None
        and a.opened
        and _should_acknowledge(setup, a.msg)
        and _recent(setup, a, now)
    ]
    # Our own mail coming back (a forward loop that dropped Auto-Submitted): no answer.
    ours = await our_message_ids(conn, [a.msg.external_id for a in wanted])
    wanted = [a for a in wanted if a.msg.external_id not in ours]
    lookups: dict[tuple[str, str], Any] = {}
    for a in await _within_breaker(setup, conn, wanted, now, normalize):
        a.ack = _acknowledgement(setup, a, now, normalize, lookups)


def _should_acknowledge(setup: IngestSetup, msg: InboundMessage) -> bool:
    return (
        setup.config.replies.acknowledge_new_tickets
        # In a chat the bot's hand-over message is the acknowledgement.
        and msg.connector_id not in setup.chat_connectors
        and not msg.auto_submitted
        and msg.reply_to is not None
        and msg.connector_id in setup.reply_routes
    )


def _recent(setup: IngestSetup, a: Arrival, now: datetime) -> bool:
    """Whether the message is young enough to answer: by the earlier of when its sender
    says it was sent and when the channel received it (a mail moved into the mailbox
    today can be weeks old, and a wrong Date cannot make an old mail new)."""
    # A connector's naive time is UTC, as the store keeps it.
    known = [
        t if t.tzinfo else t.replace(tzinfo=UTC)
        for t in (a.msg.sent_at, a.msg.received_at)
        if t is not None
    ]
    if not known:
        return True
    age = now - min(known)
    if age <= timedelta(hours=setup.config.replies.acknowledge_max_age_hours):
        return True
    setup.metrics.rejected.labels(channel=a.msg.channel, reason="too-old-to-acknowledge").inc()
    assert a.ticket is not None
    log.info(
        "not acknowledging ticket=%s: the message is %.0f hours old", a.ticket.ref, age / _HOUR
    )
    return False


_HOUR = timedelta(hours=1)


async def _within_breaker(
    setup: IngestSetup,
    conn: AsyncConnection,
    wanted: list[Arrival],
    now: datetime,
    normalize: Normalize,
) -> list[Arrival]:
    """Drops acknowledgements past the per-recipient limit: two auto-responders
    answering each other stop after a few rounds instead of mailing forever."""
    limit = setup.config.replies.max_auto_replies_per_recipient
    if not wanted:
        return []
    recipients = [
        (normalize(a.msg.reply_to) or a.msg.reply_to).value for a in wanted if a.msg.reply_to
    ]
    since = now - timedelta(minutes=setup.config.replies.auto_reply_window_minutes)
    counts = {
        r: n
        for r, n in await conn.execute(
            _RECENT_ACKS, {"recipients": sorted(set(recipients)), "since": since}
        )
    }
    allowed = []
    for a, recipient in zip(wanted, recipients, strict=True):
        if counts.get(recipient, 0) >= limit:
            setup.metrics.rejected.labels(channel=a.msg.channel, reason="auto-reply-limit").inc()
            assert a.ticket is not None
            log.warning("auto-reply limit reached; not acknowledging ticket=%s", a.ticket.ref)
            continue
        counts[recipient] = counts.get(recipient, 0) + 1
        allowed.append(a)
    return allowed


def _acknowledgement(
    setup: IngestSetup,
    a: Arrival,
    now: datetime,
    normalize: Normalize,
    lookups: dict[tuple[str, str], Any],
) -> Outbound:
    msg, customer, ticket = a.msg, a.customer, a.ticket
    assert msg.reply_to is not None and ticket is not None
    route = setup.reply_routes[msg.connector_id]
    to = normalize(msg.reply_to) or msg.reply_to
    config = setup.config.replies
    rendered = setup.replies.render(
        config.acknowledgement_template,
        customer.locale,
        {
            "customer": {"name": customer.display_name, "locale": customer.locale},
            "ticket": {"ref": ticket.ref, "subject": ticket.subject, "created_at": now},
            "team": {"id": ticket.team_id, "name": setup.team_names.get(ticket.team_id, "")},
            "signature": config.signature,
            "timezone": customer.timezone,
        },
        lookups,
    )
    return Outbound(
        connector_id=route.connector_id,
        ticket_id=ticket.id,
        customer_id=customer.id,
        to=to,
        kind="acknowledgement",
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        auto_submitted=True,
        language=rendered.locale,
    )


_RECENT_ACKS = (
    select(outbox.c.recipient, func.count())
    .where(
        outbox.c.recipient.in_(bindparam("recipients", expanding=True)),
        outbox.c.kind == "acknowledgement",
        outbox.c.created_at >= bindparam("since"),
    )
    .group_by(outbox.c.recipient)
)
