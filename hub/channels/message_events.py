"""What channels report about messages already on record: delivery statuses of ours,
edits, deletions and reactions. Each event is kept once (its key) and marks its message.

A status can arrive before the outbox has recorded the send it reports on (the channel
answers the send and posts the status at once); it is kept with no message and attached
by `attach_pending`, in the transaction that records the send.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.connector import IngestUnavailable
from hub.messages import MessageEvent
from hub.store import Store, utcnow
from hub.store.faults import fault_reason
from hub.store.schema import message_events, messages, outbox

log = logging.getLogger("hub.channels.message_events")

# A status never goes back: "delivered" reported after "read" leaves "read".
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "played": 3, "failed": 4}
KINDS = frozenset({"status", "edit", "delete", "reaction"})
MAX_VALUE_CHARS = 10_000


async def record_events(store: Store, events: Sequence[MessageEvent]) -> int:
    """Store the events and apply them to their messages; returns how many were new.
    Returns only after commit; raises IngestUnavailable when storage is down."""
    events = [e for e in events if e.kind in KINDS and e.ref and e.key]
    if not events:
        return 0
    try:
        async with store.write() as conn:
            return await _record(store, conn, events, utcnow())
    except (OperationalError, DBAPIError, OSError) as exc:
        reason = fault_reason(exc)
        log.error("events not recorded: storage error=%s reason=%s", exc.__class__.__name__, reason)
        raise IngestUnavailable(f"storage unavailable: {reason}") from exc


async def _record(
    store: Store, conn: AsyncConnection, events: list[MessageEvent], now: datetime
) -> int:
    targets = await _targets(conn, events)
    rows = []
    seen: set[tuple[str, str]] = set()
    for e in events:
        if (e.channel, e.key) in seen:
            continue
        seen.add((e.channel, e.key))
        rows.append(
            {
                "message_id": targets.get((e.channel, e.connector_id, e.ref)),
                "channel": e.channel,
                "connector_id": e.connector_id,
                "ref": e.ref[:300],
                "kind": e.kind,
                "event_key": e.key[:300],
                "value": e.value[:MAX_VALUE_CHARS] if e.value is not None else None,
                "detail": e.detail,
                "occurred_at": e.occurred_at or now,
                "created_at": now,
            }
        )
    inserted = await conn.execute(
        store.insert(message_events)
        .on_conflict_do_nothing(index_elements=["channel", "event_key"])
        .returning(*message_events.c),
        rows,
    )
    new = inserted.all()
    await _apply(
        conn,
        sorted((r for r in new if r.message_id is not None), key=lambda r: (r.occurred_at, r.id)),
    )
    return len(new)


async def _targets(
    conn: AsyncConnection, events: list[MessageEvent]
) -> dict[tuple[str, str, str], int]:
    """(channel, connector, ref) -> the message it names: one of the customer's by its
    external id, or one of ours by the id the connector's send returned."""
    out: dict[tuple[str, str, str], int] = {}
    for channel in sorted({e.channel for e in events}):
        by_ref = _group(e for e in events if e.channel == channel)
        for r in await conn.execute(
            select(messages.c.id, messages.c.external_id).where(
                messages.c.channel == channel,
                messages.c.external_id.in_(sorted(by_ref)),
                messages.c.direction == "in",
            )
        ):
            for e in by_ref[r.external_id]:
                out[(channel, e.connector_id, e.ref)] = r.id
    for connector_id in sorted({e.connector_id for e in events}):
        by_ref = _group(e for e in events if e.connector_id == connector_id)
        for r in await conn.execute(
            select(outbox.c.message_id, outbox.c.remote_id).where(
                outbox.c.connector_id == connector_id,
                outbox.c.remote_id.in_(sorted(by_ref)),
                outbox.c.message_id.is_not(None),
            )
        ):
            for e in by_ref[r.remote_id]:
                out.setdefault((e.channel, connector_id, e.ref), r.message_id)
    return out


def _group(events: Iterable[MessageEvent]) -> dict[str, list[MessageEvent]]:
    by_ref: dict[str, list[MessageEvent]] = {}
    for e in events:
        by_ref.setdefault(e.ref, []).append(e)
    return by_ref


async def _apply(conn: AsyncConnection, rows: Sequence[Any]) -> None:
    """Mark each event's message: the furthest status, when it was edited or deleted."""
    if not rows:
        return
    ids = sorted({r.message_id for r in rows})
    current = {
        r.id: r
        for r in await conn.execute(
            select(messages.c.id, messages.c.delivery_status, messages.c.body_text).where(
                messages.c.id.in_(ids)
            )
        )
    }
    changes: dict[int, dict[str, Any]] = {}
    for ev in rows:
        now_row = current.get(ev.message_id)
        if now_row is None:
            continue
        values = changes.setdefault(ev.message_id, {})
        if ev.kind == "status" and ev.value in STATUS_RANK:
            status = values.get("delivery_status", now_row.delivery_status)
            if STATUS_RANK[ev.value] > STATUS_RANK.get(status or "", 0):
                values["delivery_status"] = ev.value
        elif ev.kind == "edit":
            values["edited_at"] = ev.occurred_at
            if ev.value is not None:
                # The first text is kept on the event of the first edit; the message shows
                # what the customer means now.
                if "previous_text" not in (ev.detail or {}):
                    await conn.execute(
                        update(message_events)
                        .where(message_events.c.id == ev.id)
                        .values(detail={**(ev.detail or {}), "previous_text": now_row.body_text})
                    )
                values["body_text"] = ev.value
        elif ev.kind == "delete":
            values["deleted_at"] = ev.occurred_at
    for message_id, values in changes.items():
        if values:
            await conn.execute(update(messages).where(messages.c.id == message_id).values(values))


async def attach_pending(
    conn: AsyncConnection, connector_id: str, remote_id: str, message_id: int
) -> None:
    """Events that named `remote_id` before its send was recorded now find its message."""
    pending = (
        await conn.execute(
            update(message_events)
            .where(
                message_events.c.connector_id == connector_id,
                message_events.c.ref == remote_id,
                message_events.c.message_id.is_(None),
            )
            .values(message_id=message_id)
            .returning(*message_events.c)
        )
    ).all()
    await _apply(conn, sorted(pending, key=lambda r: (r.occurred_at, r.id)))
