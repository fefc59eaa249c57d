"""The whole store as data, to show that something changed nothing at all.

A row count misses an update of a row that was already there, and on an empty store it
misses an extra customer, identity or event as soon as one is expected elsewhere: the
tests that claim "changes nothing" compare every row of every table instead, on a store
that already holds a customer, a ticket and messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

from sqlalchemy import select

from hub.store import Store
from hub.store.schema import metadata, outbox, outgoing_events

Snapshot = dict[str, list[tuple[Any, ...]]]

# Rows the outbox worker still has to finish: a snapshot taken meanwhile would differ
# from the next one for reasons of its own.
UNSETTLED = ("pending",)


async def store_snapshot(store: Store, *, leave_out: Collection[str] = ()) -> Snapshot:
    """Every row of every table (but those in `leave_out`), in primary-key order."""
    out: Snapshot = {}
    async with store.read() as conn:
        for table in metadata.sorted_tables:
            if table.name in leave_out:
                continue
            rows = await conn.execute(select(table).order_by(*table.primary_key.columns))
            out[table.name] = [tuple(r) for r in rows]
    return out


async def settled_snapshot(
    store: Store, *, leave_out: Collection[str] = (), timeout: float = 20.0
) -> Snapshot:
    """The snapshot once no outbox row is waiting to be sent and no outgoing event waits to
    be fanned out to webhooks, so that the workers change nothing under the comparison."""
    async with asyncio.timeout(timeout):
        while True:
            async with store.read() as conn:
                waiting = (
                    await conn.execute(select(outbox.c.id).where(outbox.c.status.in_(UNSETTLED)))
                ).all()
                unfanned = (
                    await conn.execute(
                        select(outgoing_events.c.id)
                        .where(outgoing_events.c.fanned_out_at.is_(None))
                        .limit(1)
                    )
                ).all()
            if not waiting and not unfanned:
                return await store_snapshot(store, leave_out=leave_out)
            await asyncio.sleep(0.05)
