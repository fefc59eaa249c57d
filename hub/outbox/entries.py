"""The outbox as operators see it: `hub outbox list` and `hub outbox retry` (hub.cli.outbox),
and the queue's depth in /healthz and the metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store import Store, utcnow
from hub.store.schema import outbox
from hub.tickets.thread_match import our_keys


class NoSuchEntry(LookupError):
    pass


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    connector_id: str
    kind: str
    recipient: str
    subject: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    remote_id: str | None
    created_at: datetime


async def list_entries(store: Store, *, dead: bool = False, limit: int = 100) -> list[OutboxEntry]:
    query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if dead:
        query = query.where(outbox.c.status == "dead")
    async with store.read() as conn:
        rows = (await conn.execute(query)).all()
    return [
        OutboxEntry(
            r.id,
            r.connector_id,
            r.kind,
            r.recipient,
            r.subject,
            r.status,
            r.attempts,
            r.next_attempt_at,
            r.last_error,
            r.remote_id,
            r.created_at,
        )
        for r in rows
    ]


async def retry_entry(store: Store, entry_id: int) -> None:
    """Give a dead (or waiting) message a fresh set of attempts, due now.

    A lease is left alone: a message some worker is sending right now must not be
    claimed by a second one (a dead message holds no lease)."""
    async with store.write() as conn:
        result = await conn.execute(
            update(outbox)
            .where(outbox.c.id == entry_id, outbox.c.status.in_(("dead", "pending")))
            .values(status="pending", attempts=0, next_attempt_at=utcnow())
        )
        if result.rowcount == 0:
            raise NoSuchEntry(f"no dead or pending outbox entry {entry_id}")


async def depth(conn: AsyncConnection) -> tuple[dict[str, int], datetime | None]:
    counts = {
        status: n
        for status, n in await conn.execute(
            select(outbox.c.status, func.count()).group_by(outbox.c.status)
        )
    }
    oldest = (
        await conn.execute(
            select(func.min(outbox.c.created_at)).where(and_(outbox.c.status == "pending"))
        )
    ).scalar()
    return counts, oldest


async def cancel_scheduled_send(
    conn: AsyncConnection, ticket_id: int, message_id: int, by: str, now: datetime
) -> bool:
    """Withdraw a reply sent later, if the worker has not picked it up; False if too late."""
    done = await conn.execute(
        update(outbox)
        .where(
            outbox.c.ticket_id == ticket_id,
            outbox.c.message_id == message_id,
            outbox.c.status == "pending",
            outbox.c.next_attempt_at > now,
            outbox.c.lease_until.is_(None),
        )
        .values(status="cancelled", last_error=f"cancelled by {by}")
    )
    return bool(done.rowcount)


async def mark_bounced(conn: AsyncConnection, message_ids: Sequence[str]) -> None:
    """Our sent mail whose Message-IDs a bounce names came back undelivered."""
    keys = sorted(our_keys(message_ids))
    if keys:
        await conn.execute(
            update(outbox)
            .where(outbox.c.idempotency_key.in_(keys), outbox.c.status == "sent")
            .values(status="bounced", last_error="the recipient's server returned it")
        )
