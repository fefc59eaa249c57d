"""Pending events gathered into one post to a team channel (notifications, alerts).

Both event tables have `id`, `status` (pending, batched), `created_at`, `outbox_id` and
`batched_at`; a post is one outbox row queued in the transaction that marks its events
batched, so a crash neither loses an event nor posts it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store import Store
from hub.store.schema import outbox


async def pending_owners(store: Store, table: Table, owner: Column[Any]) -> set[str]:
    """Who has pending events, read without the write lock: most rounds find none, and a
    write transaction every round would wait behind ingest's writes and hold them up."""
    async with store.read() as conn:
        rows = await conn.execute(select(owner).where(table.c.status == "pending").distinct())
    return {str(r[0]) for r in rows}


async def take_due(
    conn: AsyncConnection,
    table: Table,
    owner: Column[Any],
    owner_id: str,
    columns: Sequence[Column[Any]],
    *,
    size: int,
    now: datetime,
    window_seconds: float,
    max_wait_seconds: float,
    urgent: Callable[[Sequence[Any]], bool] = lambda rows: False,
) -> Sequence[Any] | None:
    """Up to `size` pending events of `owner_id`, locked (other processes skip them), or
    None when there are none or they should wait for company: not a full post, not
    urgent, events still coming within `window_seconds`, none older than `max_wait_seconds`."""
    ev = table.c
    rows = (
        await conn.execute(
            select(ev.id, ev.created_at, *columns)
            .where(ev.status == "pending", owner == owner_id)
            .order_by(ev.id)
            .limit(size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return None
    newest, oldest = max(r.created_at for r in rows), min(r.created_at for r in rows)
    quiet = now - timedelta(seconds=window_seconds)
    overdue = now - timedelta(seconds=max_wait_seconds)
    if not urgent(rows) and len(rows) < size and newest > quiet and oldest > overdue:
        return None
    return rows


async def queue_post(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[Any],
    *,
    connector_id: str,
    key: str,
    kind: str,
    subject: str,
    body: str,
    payload: dict[str, Any] | None,
    now: datetime,
) -> int:
    """The outbox row of one post (no message row: it is no conversation's), and its
    events marked batched with it."""
    outbox_id = int(
        (
            await conn.execute(
                outbox.insert()
                .values(
                    connector_id=connector_id,
                    ticket_id=None,
                    message_id=None,
                    idempotency_key=key,
                    kind=kind,
                    recipient_kind="channel",
                    recipient=connector_id,
                    subject=subject,
                    body_text=body,
                    auto_submitted=True,
                    references=[],
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    payload=payload,
                )
                .returning(outbox.c.id)
            )
        ).scalar_one()
    )
    await conn.execute(
        update(table)
        .where(table.c.id.in_([r.id for r in rows]))
        .values(status="batched", outbox_id=outbox_id, batched_at=now)
    )
    return outbox_id
