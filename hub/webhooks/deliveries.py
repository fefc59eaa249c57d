"""Delivery rows: claimed under a lease (FOR UPDATE SKIP LOCKED on PostgreSQL, the one
writer on SQLite), a customer's events in order per endpoint, and their log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store import Store
from hub.store.schema import (
    outgoing_events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
wd = webhook_deliveries.c
ev = outgoing_events.c
MAX_LOG = 200


class NoSuchDelivery(LookupError):
    pass


@dataclass(frozen=True)
class Claimed:
    """One delivery to attempt: its row's fields and its event's (None: erased since)."""

    id: int
    endpoint_id: str
    attempts: int
    event_key: str | None
    type: str | None
    data: dict[str, Any] | None
    created_at: datetime | None


def _head_of_queue() -> Any:
    """No earlier event of the same customer is still pending for the same endpoint."""
    earlier = webhook_deliveries.alias("earlier")
    return ~exists().where(
        earlier.c.endpoint_id == wd.endpoint_id,
        earlier.c.customer_id == wd.customer_id,
        earlier.c.status == PENDING,
        earlier.c.event_id < wd.event_id,
    )


async def any_due(store: Store, endpoint_ids: Sequence[str], now: datetime) -> bool:
    """A cheap read before taking the write lock to claim. Only active endpoints' rows are
    looked at (by index): a disabled endpoint's backlog costs a round nothing."""
    if not endpoint_ids:
        return False
    async with store.read() as conn:
        row = (
            await conn.execute(
                select(wd.id)
                .where(
                    wd.endpoint_id.in_(endpoint_ids),
                    wd.status == PENDING,
                    wd.next_attempt_at <= now,
                )
                .limit(1)
            )
        ).first()
    return row is not None


async def claim(
    store: Store,
    endpoint_ids: Sequence[str],
    worker_id: str,
    now: datetime,
    lease: tuple[float, int],
) -> list[Claimed]:
    """Up to `lease[1]` due deliveries of the active `endpoint_ids`, leased for `lease[0]` s."""
    lease_seconds, limit = lease
    async with store.write() as conn:
        due = (
            select(wd.id)
            .join(webhook_endpoints, webhook_endpoints.c.id == wd.endpoint_id)
            .where(
                wd.endpoint_id.in_(endpoint_ids),
                wd.status == PENDING,
                wd.next_attempt_at <= now,
                or_(wd.lease_until.is_(None), wd.lease_until < now),
                # Checked again under the claim: another process may have disabled it.
                webhook_endpoints.c.status == "active",
                _head_of_queue(),
            )
            .order_by(wd.next_attempt_at, wd.id)
            .limit(limit)
            .with_for_update(of=webhook_deliveries, skip_locked=True)
        )
        ids = [r.id for r in await conn.execute(due)]
        if not ids:
            return []
        await conn.execute(
            update(webhook_deliveries)
            .where(wd.id.in_(ids))
            .values(lease_until=now + timedelta(seconds=lease_seconds), claimed_by=worker_id)
        )
        rows = await conn.execute(
            select(
                wd.id, wd.endpoint_id, wd.attempts, ev.event_key, ev.type, ev.data, ev.created_at
            )
            .select_from(webhook_deliveries.outerjoin(outgoing_events, ev.id == wd.event_id))
            .where(wd.id.in_(ids))
            .order_by(wd.next_attempt_at, wd.id)
        )
        return [
            Claimed(r.id, r.endpoint_id, r.attempts, r.event_key, r.type, r.data, r.created_at)
            for r in rows
        ]


async def release_stale(store: Store, worker_id: str) -> None:
    """SQLite is one hub process: a lease held by anyone else is from a dead run."""
    async with store.write() as conn:
        await conn.execute(
            update(webhook_deliveries)
            .where(wd.status == PENDING, wd.lease_until.is_not(None), wd.claimed_by != worker_id)
            .values(lease_until=None, claimed_by=None)
        )


async def redeliver(
    conn: AsyncConnection, delivery_id: int, now: datetime, endpoint_id: str | None = None
) -> Any:
    """Send again (same webhook-id), with a fresh round of attempts; the log keeps the old.
    A disabled endpoint's delivery waits until the endpoint is enabled."""
    query = select(webhook_deliveries).where(wd.id == delivery_id)
    if endpoint_id is not None:
        query = query.where(wd.endpoint_id == endpoint_id)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NoSuchDelivery(f"no webhook delivery {delivery_id}")
    await conn.execute(
        update(webhook_deliveries)
        .where(wd.id == delivery_id)
        .values(
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            lease_until=None,
            claimed_by=None,
        )
    )
    return row


async def delivery_log(
    conn: AsyncConnection, endpoint_id: str, limit: int = 50, status: str | None = None
) -> list[dict[str, Any]]:
    """An endpoint's deliveries, newest first, each with its attempts (status code, time)."""
    query = (
        select(
            wd.id,
            wd.event_id,
            wd.status,
            wd.attempts,
            wd.last_status,
            wd.last_error,
            wd.next_attempt_at,
            wd.created_at,
            wd.delivered_at,
            ev.event_key,
            ev.type,
        )
        .select_from(webhook_deliveries.outerjoin(outgoing_events, ev.id == wd.event_id))
        .where(wd.endpoint_id == endpoint_id)
        .order_by(wd.id.desc())
        .limit(min(limit, MAX_LOG))
    )
    if status is not None:
        query = query.where(wd.status == status)
    rows = (await conn.execute(query)).all()
    attempts: dict[int, list[dict[str, Any]]] = {r.id: [] for r in rows}
    if rows:
        at = webhook_attempts.c
        for a in await conn.execute(
            select(at.delivery_id, at.attempted_at, at.status_code, at.error, at.duration_ms)
            .where(at.delivery_id.in_(list(attempts)))
            .order_by(at.id)
        ):
            attempts[a.delivery_id].append(
                {
                    "attempted_at": a.attempted_at.isoformat(),
                    "status_code": a.status_code,
                    "error": a.error,
                    "duration_ms": a.duration_ms,
                }
            )
    return [
        {
            "id": r.id,
            "event_id": r.event_id,
            "webhook_id": r.event_key,
            "type": r.type,
            "status": r.status,
            "attempts": r.attempts,
            "last_status": r.last_status,
            "last_error": r.last_error,
            "next_attempt_at": r.next_attempt_at.isoformat() if r.status == PENDING else None,
            "created_at": r.created_at.isoformat(),
            "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None,
            "log": attempts[r.id][-20:],
        }
        for r in rows
    ]
