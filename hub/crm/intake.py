"""Customer events taken in per CRM connector: each marks its customer as due for a push.

Events are found by marks, not by a cursor alone: on PostgreSQL an id from the sequence can
commit after a higher one, and a cursor past the higher one would skip it. The floor below
which everything is taken in only moves past events older than SETTLE, which no open
transaction outlives; marks under the floor are pruned, so the marks stay few.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.crm_seam import ErasureAction
from hub.events.outgoing import (
    CUSTOMER_CREATED,
    CUSTOMER_ERASED,
    CUSTOMER_MERGED,
    CUSTOMER_UPDATED,
)
from hub.store import Store
from hub.store.schema import crm_cursors, crm_event_marks, crm_links, outgoing_events

CUSTOMER_EVENTS = (CUSTOMER_CREATED, CUSTOMER_UPDATED, CUSTOMER_MERGED, CUSTOMER_ERASED)
SETTLE = timedelta(minutes=10)


async def _floor(conn: AsyncConnection, connector_id: str) -> int:
    found = (
        await conn.execute(
            select(crm_cursors.c.event_floor).where(crm_cursors.c.connector_id == connector_id)
        )
    ).scalar_one_or_none()
    return int(found or 0)


def _unmarked(connector_id: str, floor: int) -> Any:
    marked = exists().where(
        crm_event_marks.c.connector_id == connector_id,
        crm_event_marks.c.event_id == outgoing_events.c.id,
    )
    return and_(
        outgoing_events.c.id > floor,
        outgoing_events.c.type.in_(CUSTOMER_EVENTS),
        ~marked,
    )


async def take_in(
    store: Store, connector_id: str, erasure: ErasureAction, now: datetime, limit: int = 2000
) -> int:
    """Take in up to `limit` new customer events in one transaction; how many."""
    async with store.write() as conn:
        floor = await _floor(conn, connector_id)
        rows = (
            await conn.execute(
                select(outgoing_events)
                .where(_unmarked(connector_id, floor))
                .order_by(outgoing_events.c.id)
                .limit(limit)
            )
        ).all()
        own = f"crm:{connector_id}"
        first: dict[int, datetime] = {}
        erased: set[int] = set()
        for row in rows:
            if row.customer_id is None or (row.data or {}).get("source") == own:
                continue  # our own pull's change: the CRM has it already
            cid = int(row.customer_id)
            first[cid] = min(first.get(cid, row.created_at), row.created_at)
            if row.type == CUSTOMER_ERASED:
                erased.add(cid)
        await touch(conn, (connector_id, now), first, erased, erasure)
        if rows:
            await conn.execute(
                crm_event_marks.insert(),
                [{"connector_id": connector_id, "event_id": r.id} for r in rows],
            )
        await _raise_floor(store, conn, connector_id, floor, now)
        return len(rows)


async def touch(
    conn: AsyncConnection,
    key: tuple[str, datetime],
    changed: dict[int, datetime],
    erased: set[int],
    action: str,
) -> None:
    """Mark customers due for a push at `now` (customer id -> when it changed), making
    their link rows where they have none; `erased` customers' records get `action`."""
    connector_id, now = key
    if not changed:
        return
    ids = sorted(changed)
    existing: set[int] = set()
    for start in range(0, len(ids), 500):
        found = await conn.execute(
            select(crm_links.c.customer_id).where(
                crm_links.c.connector_id == connector_id,
                crm_links.c.customer_id.in_(ids[start : start + 500]),
            )
        )
        existing.update(found.scalars())
    fresh = [i for i in ids if i not in existing]
    if fresh:
        await conn.execute(
            crm_links.insert(),
            [
                {
                    "connector_id": connector_id,
                    "customer_id": i,
                    "version": 1,
                    "due_at": now,
                    "changed_at": changed[i],
                    "erase": action if i in erased else None,
                    "attempts": 0,
                }
                for i in fresh
            ],
        )
    old = [i for i in ids if i in existing]
    if old:
        await conn.execute(
            update(crm_links)
            .where(
                crm_links.c.connector_id == connector_id,
                crm_links.c.customer_id == bindparam("b_id"),
            )
            .values(
                version=crm_links.c.version + 1,
                due_at=func.coalesce(crm_links.c.due_at, now),
                changed_at=func.coalesce(crm_links.c.changed_at, bindparam("b_at")),
                attempts=0,
            ),
            [{"b_id": i, "b_at": changed[i]} for i in old],
        )
    if erased & existing:
        await conn.execute(
            update(crm_links)
            .where(
                crm_links.c.connector_id == connector_id,
                crm_links.c.customer_id.in_(sorted(erased & existing)),
            )
            .values(erase=action)
        )


async def _raise_floor(
    store: Store, conn: AsyncConnection, connector_id: str, floor: int, now: datetime
) -> None:
    first_unmarked = (
        await conn.execute(
            select(func.min(outgoing_events.c.id)).where(_unmarked(connector_id, floor))
        )
    ).scalar()
    settled = select(func.max(crm_event_marks.c.event_id)).where(
        crm_event_marks.c.connector_id == connector_id,
        crm_event_marks.c.event_id > floor,
        exists().where(
            outgoing_events.c.id == crm_event_marks.c.event_id,
            outgoing_events.c.created_at < now - SETTLE,
        ),
    )
    if first_unmarked is not None:
        settled = settled.where(crm_event_marks.c.event_id < first_unmarked)
    new_floor = (await conn.execute(settled)).scalar()
    if new_floor is None:
        new_floor = floor
    stmt = (
        store.insert(crm_cursors)
        .values(connector_id=connector_id, event_floor=new_floor, updated_at=now)
        .on_conflict_do_update(
            index_elements=["connector_id"], set_={"event_floor": new_floor, "updated_at": now}
        )
    )
    await conn.execute(stmt)
    if new_floor > floor:
        await conn.execute(
            crm_event_marks.delete().where(
                crm_event_marks.c.connector_id == connector_id,
                crm_event_marks.c.event_id <= new_floor,
            )
        )


async def pending_since(conn: AsyncConnection, connector_id: str, ids: list[int]) -> dict[int, Any]:
    """customer id -> when its oldest unpushed change was made (only customers with one)."""
    rows = await conn.execute(
        select(crm_links.c.customer_id, crm_links.c.changed_at).where(
            crm_links.c.connector_id == connector_id,
            crm_links.c.customer_id.in_(ids),
            crm_links.c.due_at.is_not(None),
        )
    )
    return {r.customer_id: r.changed_at for r in rows}
