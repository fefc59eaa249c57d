"""hub.store.many: rows written in one executemany read back exactly as SQLAlchemy's own
execution writes them, on both dialects, and what it cannot take is refused by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from hub.store import Store
from hub.store.many import SIZES_KEPT, Many
from hub.store.schema import metric_events, outgoing_events

APPEND_EVENTS = Many(metric_events.insert())
APPEND_OUTGOING = Many(outgoing_events.insert())
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


RESCORE = Many(
    update(metric_events)
    .where(metric_events.c.id == bindparam("event_id"))
    .values(value=bindparam("new_value"), tags=bindparam("new_tags"))
)


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
            await APPEND_EVENTS.run(conn, rows)
            await APPEND_OUTGOING.run(conn, events)
        appended = (await _read(store, metric_events), await _read(store, outgoing_events))
        async with store.write() as conn:
            await conn.execute(metric_events.delete())
            await conn.execute(outgoing_events.delete())
            await conn.execute(metric_events.insert(), rows)
            await conn.execute(outgoing_events.insert(), events)
        inserted = (await _read(store, metric_events), await _read(store, outgoing_events))
        assert appended == inserted
        async with store.write() as conn:
            ids = (await conn.execute(select(metric_events.c.id).order_by("id"))).scalars().all()
            await RESCORE.run(
                conn,
                [{"event_id": i, "new_value": 5, "new_tags": ["late"]} for i in ids],
            )
        rescored = await _read(store, metric_events)
        assert [(r["value"], r["tags"]) for r in rescored] == [(5, ["late"])] * 2
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
                await APPEND_EVENTS.run(conn, [without_weight])
            with pytest.raises(ValueError, match="has no columns"):
                await APPEND_EVENTS.run(conn, [_event("message_in", colour="red")])
            with pytest.raises(ValueError, match="every row must have the keys"):
                await APPEND_EVENTS.run(conn, [_event("message_in"), {"kind": "x"}])
            await APPEND_EVENTS.run(conn, [])
            with pytest.raises(ValueError, match="lack the parameters"):
                await RESCORE.run(conn, [{"event_id": 1, "colour": "red"}])
        with pytest.raises(ValueError, match="RETURNING for INSERTs only"):
            Many(update(metric_events).returning(metric_events.c.id))
        with pytest.raises(ValueError, match="without IN lists"):
            async with store.write() as conn:
                await Many(
                    metric_events.delete().where(
                        metric_events.c.id.in_(bindparam("ids", expanding=True))
                    )
                ).run(conn, [{"ids": [1]}])
        assert await _read(store, metric_events) == []
    finally:
        await store.close()


async def test_inserts_with_returning_give_back_what_they_inserted(
    storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One statement of VALUES groups (numbered on from row to row on PostgreSQL), split
    when the parameters would pass the limit; ON CONFLICT DO NOTHING returns only the
    rows it inserted."""
    store = Store(storage_url)
    await store.migrate()
    insert = store.insert(outgoing_events).on_conflict_do_nothing(index_elements=["event_key"])
    keyed = Many(insert.returning(outgoing_events.c.id, outgoing_events.c.event_key))

    def event(i: int) -> dict[str, Any]:
        data = {"n": i, "text": "অর্ডার"}
        return {"event_key": f"msg_{i:03d}", "type": "ticket.created", "customer_id": i,
                "ticket_id": None, "data": data, "created_at": AT}  # fmt: skip

    try:
        # 7 columns a row: 20 parameters take two rows a statement.
        monkeypatch.setattr("hub.store.many.MAX_PARAMETERS", 20)
        async with store.write() as conn:
            first = await keyed.run(conn, [event(i) for i in range(5)])
            again = await keyed.run(conn, [event(i) for i in (3, 4, 5)])
        assert sorted(r.event_key for r in first) == [f"msg_{i:03d}" for i in range(5)]
        assert [r.event_key for r in again] == ["msg_005"]
        stored = {r["event_key"]: r for r in await _read(store, outgoing_events)}
        for r in [*first, *again]:
            n = int(r.event_key[4:])
            assert stored[r.event_key]["data"] == {"n": n, "text": "অর্ডার"}
            assert stored[r.event_key]["customer_id"] == n
        with pytest.raises(ValueError, match=r"not outgoing_events\.created_at"):
            async with store.write() as conn:
                timed = Many(outgoing_events.insert().returning(outgoing_events.c.created_at))
                await timed.run(conn, [event(9)])
    finally:
        await store.close()


async def test_statements_for_many_batch_sizes_are_kept_bounded(storage_url: str) -> None:
    """A batch's size varies; the texts kept for RETURNING inserts do not grow with it."""
    store = Store(storage_url)
    await store.migrate()
    keyed = Many(outgoing_events.insert().returning(outgoing_events.c.event_key))
    made = 0
    try:
        async with store.write() as conn:
            for n in range(1, SIZES_KEPT + 9):
                rows = [
                    {"event_key": f"msg_{made + i}", "type": "ticket.created", "customer_id": 1,
                     "ticket_id": None, "data": {"n": made + i}, "created_at": AT}
                    for i in range(n)
                ]  # fmt: skip
                assert len(await keyed.run(conn, rows)) == n
                made += n
        [per_keys] = keyed._prepared.values()
        [prepared] = per_keys.values()
        assert len(prepared.for_rows) == SIZES_KEPT
        stored = await _read(store, outgoing_events)
        assert sorted(r["data"]["n"] for r in stored) == list(range(made))
    finally:
        await store.close()


DEFERRED_EVENTS = Many(metric_events.insert(), deferred=True)


def _outgoing_row(key: str) -> dict[str, Any]:
    return {"event_key": key, "type": "ticket.created", "customer_id": 3, "ticket_id": None,
            "data": {}, "created_at": AT}  # fmt: skip


async def test_deferred_writes_ride_with_the_next_statement_or_the_commit(
    storage_url: str,
) -> None:
    """On SQLite a deferred write is sent with the transaction's next statement (which
    sees it) or with its commit; elsewhere it runs at once. Either way it is in the
    transaction: what a failing one or a rollback leaves is nothing."""
    store = Store(storage_url)
    await store.migrate()
    try:
        async with store.write() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            changes = raw._conn.total_changes if store.dialect == "sqlite" else None
            await DEFERRED_EVENTS.run(conn, [_event("ticket_opened")])
            if changes is not None:
                assert raw._conn.total_changes == changes  # not sent yet
            seen = (await conn.execute(select(metric_events.c.kind))).scalars().all()
            assert seen == ["ticket_opened"]
            await DEFERRED_EVENTS.run(conn, [_event("ticket_solved")] * 2)
        kinds = [r["kind"] for r in await _read(store, metric_events)]
        assert kinds == ["ticket_opened", "ticket_solved", "ticket_solved"]

        # Streamed (a server-side cursor): the rows before it are in what it reads.
        async with store.write() as conn:
            await DEFERRED_EVENTS.run(conn, [_event("ticket_reopened")])
            streamed = await conn.stream(select(metric_events.c.kind))
            assert "ticket_reopened" in [k async for k in streamed.scalars()]

        class Abandoned(Exception):
            pass

        with pytest.raises(Abandoned):
            async with store.write() as conn:
                await DEFERRED_EVENTS.run(conn, [_event("survey_sent")])
                raise Abandoned
        # A row the table refuses (kind is NOT NULL), sent at the commit: the commit fails
        # as SQLAlchemy's own error, and the write before it in the transaction is undone.
        with pytest.raises(IntegrityError):
            async with store.write() as conn:
                await APPEND_OUTGOING.run(conn, [_outgoing_row("msg_deferred")])
                await DEFERRED_EVENTS.run(conn, [_event(None)])  # type: ignore[arg-type]
        assert [r["kind"] for r in await _read(store, metric_events)] == [
            *kinds,
            "ticket_reopened",
        ]
        assert await _read(store, outgoing_events) == []
        # The connection is sound afterwards.
        async with store.write() as conn:
            await DEFERRED_EVENTS.run(conn, [_event("survey_sent")])
        assert (await _read(store, metric_events))[-1]["kind"] == "survey_sent"
    finally:
        await store.close()


async def test_a_deferred_write_outside_a_transaction_runs_at_once(storage_url: str) -> None:
    """With no transaction begun, nothing would send it: it runs as a statement (and
    SQLAlchemy begins the transaction the commit ends)."""
    store = Store(storage_url)
    await store.migrate()
    try:
        async with store.engine.connect() as conn:
            await DEFERRED_EVENTS.run(conn, [_event("ticket_opened")])
            await conn.commit()
        assert [r["kind"] for r in await _read(store, metric_events)] == ["ticket_opened"]
    finally:
        await store.close()
