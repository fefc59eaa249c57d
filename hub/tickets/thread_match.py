"""Finding the ticket a message answers, from the hints a channel gives (email).

The order: a message id of ours or of the ticket in In-Reply-To/References -> the
`[#T-123]` subject token -> a signed marker from our quoted text. Each hint counts only when
the sender is the ticket's customer: a stranger replying to a forwarded thread starts their
own ticket and never lands on someone else's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence, Set
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.schema import messages, outbox, tickets

# Odoo caps the References it looks at too: a long chain adds nothing but query size.
MAX_REFERENCES = 32
_TOKEN = re.compile(r"\[#T-(\d{1,18})\]")
_MARKER = re.compile(r"^T-(\d{1,18})\.([0-9a-f]{16})$")
_MSGID_LOCAL = re.compile(r"^<([^@<>\s]+)@[^<>\s]+>$")


@dataclass(frozen=True)
class ThreadHints:
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str | None
    marker: str | None
    # The channel the mail came in on: a referenced Message-ID is looked up among that
    # channel's messages, where the (channel, external_id) index finds it.
    channel: str


@dataclass(frozen=True)
class ThreadMatch:
    ticket_id: int
    status: str
    via: str  # "reference", "subject token" or "marker"


def make_marker(ticket_id: int, secret: bytes) -> str:
    mac = hmac.new(secret, f"T-{ticket_id}".encode(), hashlib.sha256).hexdigest()[:16]
    return f"T-{ticket_id}.{mac}"


def verify_marker(marker: str, secret: bytes) -> int | None:
    match = _MARKER.match(marker.strip())
    if match is None:
        return None
    ticket_id = int(match.group(1))
    expected = make_marker(ticket_id, secret)
    return ticket_id if hmac.compare_digest(expected, marker.strip()) else None


def our_keys(message_ids: Sequence[str]) -> list[str]:
    """Our Message-IDs are <idempotency-key@domain>: the outbox keys among `message_ids`."""
    return [m.group(1) for mid in message_ids if (m := _MSGID_LOCAL.match(mid.strip()))]


async def our_message_ids(conn: AsyncConnection, message_ids: Sequence[str]) -> set[str]:
    """Those of `message_ids` that are our own mails': one came back, so a loop is under way."""
    by_key = {m.group(1): mid for mid in message_ids if (m := _MSGID_LOCAL.match(mid.strip()))}
    if not by_key:
        return set()
    rows = await conn.execute(
        select(outbox.c.idempotency_key).where(outbox.c.idempotency_key.in_(sorted(by_key)))
    )
    return {by_key[r.idempotency_key] for r in rows}


def subject_ticket_ids(subject: str | None) -> list[int]:
    return [int(m) for m in _TOKEN.findall(subject or "")]


def _refs(hints: ThreadHints) -> list[str]:
    refs = list(hints.references)[-MAX_REFERENCES:]
    if hints.in_reply_to and hints.in_reply_to not in refs:
        refs.append(hints.in_reply_to)
    return [r.strip() for r in refs if r.strip()][-MAX_REFERENCES:]


async def new_topics(
    conn: AsyncConnection, hints: Sequence[ThreadHints], batch_ids: Set[str]
) -> list[bool]:
    """For each message's hints, whether none of them can name a ticket: no subject token,
    no marker, and no reference to a mail the store has on a ticket or that `batch_ids`
    (the group being committed) holds. Such a message is a new topic, whatever
    `match_thread` is asked; two queries for the whole group instead of two per message."""
    refs = [_refs(h) for h in hints]
    wanted = sorted({r for rs in refs for r in rs if r not in batch_ids})
    keys = set(our_keys(wanted))
    known: set[str] = set()
    if keys:
        rows = await conn.execute(
            select(outbox.c.idempotency_key).where(
                outbox.c.idempotency_key.in_(sorted(keys)), outbox.c.ticket_id.is_not(None)
            )
        )
        known_keys = {r.idempotency_key for r in rows}
        known |= {r for r in wanted if set(our_keys([r])) & known_keys}
    on_tickets: set[tuple[str, str]] = set()
    for channel in sorted({h.channel for h in hints}):
        mine = sorted({r for h, rs in zip(hints, refs, strict=True) if h.channel == channel
                       for r in rs if r not in batch_ids})  # fmt: skip
        if not mine:
            continue
        rows = await conn.execute(
            select(messages.c.channel, messages.c.external_id).where(
                messages.c.channel == channel,
                messages.c.external_id.in_(mine),
                messages.c.ticket_id.is_not(None),
            )
        )
        on_tickets |= {(r.channel, r.external_id) for r in rows}
    return [
        not subject_ticket_ids(h.subject)
        and not h.marker
        and not any(r in known or (h.channel, r) in on_tickets or r in batch_ids for r in rs)
        for h, rs in zip(hints, refs, strict=True)
    ]


async def match_thread(
    conn: AsyncConnection, hints: ThreadHints, customer_id: int, secret: bytes
) -> ThreadMatch | None:
    refs = _refs(hints)
    if refs:
        found = await _by_reference(conn, refs, hints.channel, customer_id)
        if found is not None:
            return found
    for ticket_id in subject_ticket_ids(hints.subject):
        found = await _own_ticket(conn, ticket_id, customer_id, "subject token")
        if found is not None:
            return found
    if hints.marker:
        ticket_id = verify_marker(hints.marker, secret)
        if ticket_id is not None:
            return await _own_ticket(conn, ticket_id, customer_id, "marker")
    return None


async def _by_reference(
    conn: AsyncConnection, refs: list[str], channel: str, customer_id: int
) -> ThreadMatch | None:
    # Our own mails carry Message-IDs made from their outbox idempotency key.
    keys = our_keys(refs)
    candidates: list[int] = []
    if keys:
        rows = await conn.execute(
            select(outbox.c.ticket_id).where(
                outbox.c.idempotency_key.in_(keys), outbox.c.ticket_id.is_not(None)
            )
        )
        candidates += [r.ticket_id for r in rows]
    rows = await conn.execute(
        select(messages.c.ticket_id).where(
            messages.c.channel == channel,
            messages.c.external_id.in_(refs),
            messages.c.ticket_id.is_not(None),
        )
    )
    candidates += [r.ticket_id for r in rows]
    # The newest ticket wins when a chain spans several (a reopened conversation).
    for ticket_id in sorted(set(candidates), reverse=True):
        found = await _own_ticket(conn, ticket_id, customer_id, "reference")
        if found is not None:
            return found
    return None


async def _own_ticket(
    conn: AsyncConnection, ticket_id: int, customer_id: int, via: str
) -> ThreadMatch | None:
    row = (
        await conn.execute(
            select(tickets.c.id, tickets.c.status).where(
                tickets.c.id == ticket_id, tickets.c.customer_id == customer_id
            )
        )
    ).first()
    return ThreadMatch(row.id, row.status, via) if row is not None else None
