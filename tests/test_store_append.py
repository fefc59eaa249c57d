"""hub.store.append: rows appended in one executemany read back exactly as SQLAlchemy's own
insert writes them, on both dialects, and rows it cannot take are refused by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from hub.store import Store
from hub.store.append import append_rows
from hub.store.schema import metric_events, outgoing_events

AT = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC)


def _event(kind: str, **more: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": kind,
        "occurred_at": AT,
        "ticket_id": 7,
        "customer_id": 3,
        "team_id": "support",
        "channel": "webform",
        "agent": None,
        "priority": "high",
        "tags": ["vip", "billing"],
        "seconds": 12.5,
        "business_seconds": None,
        "value": None,
        "weight": 1,
    }
    return row | more


async def _read(store: Store, table: Any) -> list[dict[str, Any]]:
    async with store.read() as conn:
        rows = await conn.execute(select(table).order_by(table.c.id))
        return [{k: v for k, v in r._mapping.items() if k != "id"} for r in rows]


async def test_appended_rows_read_back_as_the_orms_insert_writes_them(storage_url: str) -> None:
    store = Store(storage_url)
    await store.migrate()
    try:
        # Another zone's time, JSON lists and objects (empty ones too), SQL NULLs.
        dhaka = AT.astimezone(timezone(timedelta(hours=6)))
        rows = [
            _event("message_in"),
            _event("reply", occurred_at=dhaka, tags=[], agent="asha", seconds=None, value=4),
        ]
        data = [{"ticket_id": 7, "subject": "Bestellung / অর্ডার"}, {}]
        events = [
            {"event_key": f"msg_{i}", "type": "ticket.created", "customer_id": 3,
             "ticket_id": None, "data": d, "created_at": dhaka}
            for i, d in enumerate(data)
        ]  # fmt: skip
        async with store.write() as conn:
            await append_rows(conn, metric_events, rows)
            await append_rows(conn, outgoing_events, events)
        appended = (await _read(store, metric_events), await _read(store, outgoing_events))
        async with store.write() as conn:
            await conn.execute(metric_events.delete())
            await conn.execute(outgoing_events.delete())
            await conn.execute(metric_events.insert(), rows)
            await conn.execute(outgoing_events.insert(), events)
        inserted = (await _read(store, metric_events), await _read(store, outgoing_events))
        assert appended == inserted
        first, second = appended[0]
        assert first["occurred_at"] == AT and second["occurred_at"] == AT
        assert first["tags"] == ["vip", "billing"] and second["tags"] == []
        assert (second["agent"], second["seconds"], second["value"]) == ("asha", None, 4)
        assert appended[1][0]["data"] == data[0] and appended[1][1]["data"] == {}
        assert appended[1][0]["fanned_out_at"] is None
    finally:
        await store.close()


async def test_rows_missing_a_defaulted_column_or_with_other_keys_are_refused(
    tmp_path: Any,
) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    await store.migrate()
    try:
        async with store.write() as conn:
            without_weight = _event("message_in")
            del without_weight["weight"]
            with pytest.raises(ValueError, match=r"must give \['weight'\]"):
                await append_rows(conn, metric_events, [without_weight])
            with pytest.raises(ValueError, match="has no columns"):
                await append_rows(conn, metric_events, [_event("message_in", colour="red")])
            with pytest.raises(ValueError, match="must all have the keys"):
                await append_rows(conn, metric_events, [_event("message_in"), {"kind": "x"}])
            await append_rows(conn, metric_events, [])
        assert await _read(store, metric_events) == []
    finally:
        await store.close()
