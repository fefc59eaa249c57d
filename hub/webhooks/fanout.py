"""Fan-out: each new outgoing event becomes one delivery row per endpoint that wants it,
in the transaction that marks the event fanned out, so none is skipped or doubled.

One process fans out at a time (a PostgreSQL advisory lock; SQLite has one writer):
two fanning out side by side could each take part of one customer's events and let a
later one be delivered before an earlier one's delivery row exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, literal, select, text, update

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

    In SQL, not row by row in Python: the events are marked (one statement, so one
    snapshot on PostgreSQL: none committed meanwhile is marked without its deliveries),
    then each endpoint's rows are copied from the marked events. An endpoint hears of
    events recorded since it was created; a disabled one still gets its rows (they wait
    until it is enabled), a removed one none.
    """
    async with store.write() as conn:
        if store.dialect == "postgresql":
            lock = text("SELECT pg_try_advisory_xact_lock(:k)")
            if not (await conn.execute(lock, {"k": _FANOUT_LOCK})).scalar():
                return 0  # another process is fanning out right now
        batch = (
            select(ev.id).where(ev.fanned_out_at.is_(None)).order_by(ev.id).limit(limit)
        ).scalar_subquery()
        ids = (
            (
                await conn.execute(
                    update(outgoing_events)
                    .where(ev.id.in_(batch))
                    .values(fanned_out_at=now)
                    .returning(ev.id)
                )
            )
            .scalars()
            .all()
        )
        if not ids:
            return 0
        marked = (ev.id >= min(ids), ev.id <= max(ids), ev.fanned_out_at == now)
        for e in endpoints:
            rows = select(
                literal(e.id),
                ev.id,
                ev.customer_id,
                literal("pending"),
                literal(0),
                literal(now, type_=ev.created_at.type),
                literal(now, type_=ev.created_at.type),
            ).where(*marked, ev.created_at >= e.created_at)
            if "*" not in e.events:
                rows = rows.where(ev.type.in_(e.events))
            await conn.execute(
                store.insert(webhook_deliveries)
                .from_select(_COLUMNS, rows.order_by(ev.id))
                .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
            )
    return len(ids)


_COLUMNS = [
    "endpoint_id",
    "event_id",
    "customer_id",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
]


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
