"""Bounces: a returned mail marks the outbox row it came from, and joins that row's ticket."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.ingest.arrival import Arrival
from hub.outbox.entries import mark_bounced
from hub.store.schema import outbox
from hub.tickets.thread_match import our_keys


async def record_bounces(conn: AsyncConnection, fresh: list[Arrival]) -> None:
    await mark_bounced(conn, [m for a in fresh for m in a.msg.bounced_message_ids])


async def ticket_of_bounced(conn: AsyncConnection, message_ids: Sequence[str]) -> int | None:
    """The ticket of the mail of ours that bounced (`message_ids`: its Message-IDs)."""
    keys = our_keys(message_ids)
    if not keys:
        return None
    return (
        await conn.execute(
            select(func.max(outbox.c.ticket_id)).where(outbox.c.idempotency_key.in_(keys))
        )
    ).scalar()
