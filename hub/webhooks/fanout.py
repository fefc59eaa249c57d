"""Fan-out: each new outgoing event becomes one delivery row per endpoint that wants it,
in the transaction that marks the event fanned out, so none is skipped or doubled.

One process fans out at a time (a PostgreSQL advisory lock; SQLite has one writer):
two fanning out side by side could each take part of one customer's events and let a
later one be delivered before an earlier one's delivery row exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text, update

from hub.store import Store
from hub.store.schema import outgoing_events, webhook_deliveries
from hub.webhooks.endpoints import Endpoint

# pg_try_advisory_xact_lock's key: "webhook" fan-out, any number the hub uses nowhere else.
_FANOUT_LOCK = 0x77686B66
ev = outgoing_events.c


async def pending_fanout(store: Store) -> bool:
    """Anything to fan out? A read, so an idle round takes no write lock."""
    async with store.read() as conn:
        row = (await conn.execute(select(ev.id).where(ev.fanned_out_at.is_(None)).limit(1))).first()
    return row is not None


async def fan_out(
    store: Store, endpoints: Sequence[Endpoint], now: datetime, limit: int = 1000
) -> int:
    """Deliveries for up to `limit` events not yet fanned out; how many events it took.

    An endpoint hears of events recorded since it was created; a disabled one still gets
    its rows (they wait until it is enabled), a removed one none.
    """
    async with store.write() as conn:
        if store.dialect == "postgresql":
            got = (
                await conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _FANOUT_LOCK}
                )
            ).scalar()
            if not got:
                return 0  # another process is fanning out right now
        rows = (
            await conn.execute(
                select(ev.id, ev.type, ev.customer_id, ev.created_at)
                .where(ev.fanned_out_at.is_(None))
                .order_by(ev.id)
                .limit(limit)
            )
        ).all()
        if not rows:
            return 0
        deliveries = [
            {
                "endpoint_id": e.id,
                "event_id": r.id,
                "customer_id": r.customer_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for r in rows
            for e in endpoints
            if e.wants(r.type) and r.created_at >= e.created_at
        ]
        if deliveries:
            await conn.execute(
                store.insert(webhook_deliveries).on_conflict_do_nothing(
                    index_elements=["endpoint_id", "event_id"]
                ),
                deliveries,
            )
        await conn.execute(
            update(outgoing_events).where(ev.id.in_([r.id for r in rows])).values(fanned_out_at=now)
        )
    return len(rows)


async def unfanned_count(store: Store) -> int:
    async with store.read() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count())
                    .select_from(outgoing_events)
                    .where(ev.fanned_out_at.is_(None))
                )
            ).scalar_one()
        )
