"""Storing inbound messages once: a redelivery (same channel and external id) is told
apart from a new message by the insert itself, and answered with what the first got.

A key the client chose (a form's Idempotency-Key) is bound to its request, as Stripe does:
the same key with another request is refused, never answered with the first one's ticket."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.connector import IdempotencyConflict
from hub.ingest.arrival import Arrival, conversation
from hub.messages import Address, InboundMessage, SubmitResult
from hub.store import Store
from hub.store.many import Many
from hub.store.schema import messages
from hub.tickets.records import ticket_ref

MAX_TEXT_CHARS = 200_000


async def store_inbound(
    store: Store, conn: AsyncConnection, valid: list[Arrival], now: datetime
) -> tuple[list[Arrival], list[Arrival]]:
    """Inserts each message unless stored before; returns the new ones (their
    `message_id` set) and the redeliveries."""
    inserted = await store.statement(_insert_inbound).run(
        conn, [_inbound_row(a.msg, a.addrs[0], now) for a in valid]
    )
    new_ids = {(r.channel, r.external_id): r.id for r in inserted}
    fresh: list[Arrival] = []
    duplicates: list[Arrival] = []
    for a in valid:
        # The first of several posts with one key was inserted; the rest are redeliveries.
        message_id = new_ids.pop((a.msg.channel, a.msg.external_id), None)
        if message_id is None:
            duplicates.append(a)
        else:
            a.message_id = message_id
            fresh.append(a)
    return fresh, duplicates


async def answer_duplicates(conn: AsyncConnection, duplicates: list[Arrival]) -> None:
    """Each redelivery's result: the stored message's, with its ticket and customer; an
    IdempotencyConflict for a client's key reused with another request."""
    msgs = [a.msg for a in duplicates]
    found: dict[tuple[str, str], SubmitResult] = {}
    hashes: dict[tuple[str, str], str | None] = {}
    for channel in sorted({m.channel for m in msgs}):
        rows = await conn.execute(
            select(
                messages.c.id,
                messages.c.ticket_id,
                messages.c.customer_id,
                messages.c.external_id,
                messages.c.request_hash,
            ).where(
                messages.c.channel == channel,
                messages.c.external_id.in_(
                    sorted({m.external_id for m in msgs if m.channel == channel})
                ),
            )
        )
        for r in rows:
            found[(channel, r.external_id)] = SubmitResult(
                r.id,
                r.ticket_id,
                ticket_ref(r.ticket_id) if r.ticket_id is not None else None,
                r.customer_id,
                True,
            )
            hashes[(channel, r.external_id)] = r.request_hash
    for a in duplicates:
        key = (a.msg.channel, a.msg.external_id)
        stored = hashes[key]
        # A row stored before keys were bound has no hash: answered as a duplicate.
        if a.msg.client_key and stored is not None and stored != request_hash(a.msg):
            a.result = IdempotencyConflict(
                "this idempotency key was already used for a different request; "
                "use a new key for a new request"
            )
        else:
            a.result = found[key]


def request_hash(msg: InboundMessage) -> str:
    """A hash of what the client sent, normalized (the sender's identities, subject, text,
    language): the request a client's idempotency key is bound to."""
    request = [
        sorted([a.kind, a.value, a.display_name or ""] for a in (msg.sender, *msg.identities)),
        msg.subject,
        msg.text,
        msg.language,
    ]
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


# Built once (Store.statement): every batch runs it.
def _insert_inbound(store: Store) -> Many:
    return Many(
        store.insert(messages)
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        .returning(messages.c.id, messages.c.channel, messages.c.external_id)
    )


def _inbound_row(msg: InboundMessage, sender: Address, now: datetime) -> dict[str, Any]:
    return {
        "channel": msg.channel,
        "external_id": msg.external_id,
        "connector_id": msg.connector_id,
        "direction": "in",
        "sender": sender.value,
        "subject": msg.subject,
        "body_text": msg.text[:MAX_TEXT_CHARS],
        "body_html": msg.html,
        "language": msg.language,
        "auto_submitted": msg.auto_submitted,
        "meta": msg.meta,
        "request_hash": request_hash(msg) if msg.client_key else None,
        "conversation": conversation(msg),
        "received_at": msg.received_at or now,
        "created_at": now,
    }
