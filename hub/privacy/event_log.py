"""The integration log's retention: webhook deliveries done with (delivered, or failed for
good), their attempts, and outgoing events every consumer has finished with, once older
than `privacy.integration_log_days`. Three rows per message would otherwise pile up for
ever, and an event's ids and routing are personal data kept for no purpose.

An event stays while it is not fanned out yet, while any delivery of it is pending, and
(a customer event) while a configured CRM sync has not taken it in (its event floor).
Deleted in batches, each its own transaction, so a large backlog never holds the writer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.crm.intake import CUSTOMER_EVENTS
from hub.store import Store, utcnow
from hub.store.schema import crm_cursors, outgoing_events, webhook_attempts, webhook_deliveries

BATCH = 2000
_D, _E = webhook_deliveries.c, outgoing_events.c


@dataclass
class LogPruned:
    deliveries: int = 0
    events: int = 0


async def prune_integration_log(
    store: Store, keep_days: int, crm_ids: Sequence[str], now: datetime | None = None
) -> LogPruned:
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    report = LogPruned()
    while n := await _batch(store, _done_deliveries(cutoff), _delete_deliveries):
        report.deliveries += n
    async with store.read() as conn:
        floor = await _crm_floor(conn, crm_ids)
    while n := await _batch(store, _done_events(cutoff, floor), _delete_events):
        report.events += n
    return report


def _done_deliveries(cutoff: datetime) -> Select[tuple[int]]:
    return (
        select(_D.id)
        .where(_D.status.in_(("delivered", "failed")), _D.created_at < cutoff)
        .limit(BATCH)
    )


def _done_events(cutoff: datetime, crm_floor: int | None) -> Select[tuple[int]]:
    where = [
        _E.created_at < cutoff,
        _E.fanned_out_at.is_not(None),
        ~exists().where(_D.event_id == _E.id),
    ]
    if crm_floor is not None:
        where.append(or_(_E.type.not_in(CUSTOMER_EVENTS), _E.id <= crm_floor))
    return select(_E.id).where(and_(*where)).limit(BATCH)


async def _batch(
    store: Store,
    ids_query: Select[tuple[int]],
    remove: Callable[[AsyncConnection, list[int]], Awaitable[None]],
) -> int:
    async with store.write() as conn:
        ids = [r for (r,) in await conn.execute(ids_query)]
        if ids:
            await remove(conn, ids)
    return len(ids)


async def _delete_deliveries(conn: AsyncConnection, ids: list[int]) -> None:
    await conn.execute(delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ids)))
    await conn.execute(delete(webhook_deliveries).where(_D.id.in_(ids)))


async def _delete_events(conn: AsyncConnection, ids: list[int]) -> None:
    await conn.execute(delete(outgoing_events).where(_E.id.in_(ids)))


async def _crm_floor(conn: AsyncConnection, crm_ids: Sequence[str]) -> int | None:
    """The lowest event floor of the configured CRM syncs (0 for one that never ran);
    None when there is no CRM to wait for."""
    if not crm_ids:
        return None
    rows = await conn.execute(
        select(crm_cursors.c.connector_id, crm_cursors.c.event_floor).where(
            crm_cursors.c.connector_id.in_(sorted(crm_ids))
        )
    )
    floors = dict(rows.all())
    return min(int(floors.get(cid, 0)) for cid in crm_ids)
