"""Messages in and out kept as counts per UTC quarter hour and dimensions (hub.events.counts),
and the migration that moves an older database's message events into them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hub.events.counts import count_rows, dims_key, first_slot_from, slot_of, ticket_rows
from hub.events.metrics import COUNTED, MetricEvent
from hub.store import Store
from hub.store.migrate import upgrade
from hub.store.schema import customers, metric_counts, metric_events, teams, tickets

AT = datetime(2026, 3, 7, 10, 14, 59, tzinfo=UTC)


def test_a_batch_adds_to_one_row_per_quarter_hour_and_dimensions() -> None:
    base = {"team": "support", "channel": "email", "priority": "normal"}
    events = [
        MetricEvent("message_in", AT, ticket_id=1, tags=("b", "a"), **base),
        MetricEvent(
            "message_in", AT - timedelta(minutes=14), ticket_id=2, tags=("a", "b", "a"), **base
        ),
        # The next quarter hour, another agent, no tags: rows of their own.
        MetricEvent("message_in", AT + timedelta(seconds=1), ticket_id=1, **base),
        MetricEvent("message_out", AT, ticket_id=1, agent="sam", **base),
        MetricEvent("message_out", AT, ticket_id=1, agent="sam", weight=-1, **base),
        MetricEvent("message_out", AT, ticket_id=3, agent="sam", **base),
    ]
    rows = count_rows(events)
    got = [(r["kind"], r["slot"], r["agent"], r["tags"], r["n"]) for r in rows]
    slot = slot_of(AT)
    assert slot * 900 == int(datetime(2026, 3, 7, 10, 0, tzinfo=UTC).timestamp())
    assert sorted(got) == [
        ("message_in", slot, "", '["a", "b"]', 2),
        ("message_in", slot + 1, "", "[]", 1),
        ("message_out", slot, "sam", "[]", 1),
    ]
    assert [(r["kind"], r["slot"], r["dims"]) for r in rows] == sorted(
        (r["kind"], r["slot"], r["dims"]) for r in rows
    )
    tagged = next(r for r in rows if r["tags"] != "[]")
    assert tagged["dims"] == dims_key("support", "email", "", "normal", '["a", "b"]')
    assert tagged["dims"] != dims_key("support", "email", "", "normal", '["a"]')
    assert ticket_rows(events, COUNTED) == [
        {"ticket": 1, "add_messages_in": 2, "add_messages_out": 0},
        {"ticket": 2, "add_messages_in": 1, "add_messages_out": 0},
        {"ticket": 3, "add_messages_in": 0, "add_messages_out": 1},
    ]


def test_a_range_from_a_local_midnight_takes_whole_quarter_hours() -> None:
    kathmandu = datetime(2026, 3, 7, 18, 15, tzinfo=UTC)  # midnight at UTC+05:45
    assert first_slot_from(kathmandu) == slot_of(kathmandu)
    assert first_slot_from(kathmandu + timedelta(seconds=1)) == slot_of(kathmandu) + 1


async def test_the_migration_moves_message_events_into_counts(empty_storage_url: str) -> None:
    store = Store(empty_storage_url)
    try:
        await upgrade(store.engine, "0025_weekly_summary")
        async with store.write() as conn:
            await conn.execute(teams.insert(), {"id": "support", "name": "Support"})
            await conn.execute(
                customers.insert(),
                {"id": 1, "display_name": "Ann", "locale": "en", "timezone": "UTC", "address": {}, "tags": [],
                 "created_at": AT, "updated_at": AT},
            )  # fmt: skip
            await conn.execute(
                tickets.insert(),
                {"id": 7, "customer_id": 1, "channel": "email", "connector_id": "mail",
                 "team_id": "support", "status": "open", "priority": "normal", "tags": ["x"],
                 "created_at": AT, "updated_at": AT, "last_message_at": AT},
            )  # fmt: skip
            # Every row gives every key: an executemany takes the first row's.
            event = {"ticket_id": 7, "customer_id": 1, "team_id": "support", "channel": "email",
                     "priority": "normal", "agent": None, "weight": 1}  # fmt: skip
            await conn.execute(
                metric_events.insert(),
                [
                    event | {"kind": "message_in", "occurred_at": AT, "tags": ["x"]},
                    event | {"kind": "message_in", "occurred_at": AT, "tags": ["x", "x"]},
                    event
                    | {
                        "kind": "message_out",
                        "occurred_at": AT,
                        "agent": "sam",
                        "tags": ["x"],
                    },
                    event | {"kind": "ticket_opened", "occurred_at": AT, "tags": ["x"]},
                ],
            )
        await store.migrate()
        async with store.read() as conn:
            kinds = (await conn.execute(select(metric_events.c.kind))).scalars().all()
            counts = (await conn.execute(select(metric_counts))).all()
            counters = (
                await conn.execute(select(tickets.c.messages_in, tickets.c.messages_out))
            ).one()
    finally:
        await store.close()
    assert kinds == ["ticket_opened"]
    # The same rows the hub writes for such events today.
    now = [
        MetricEvent("message_in", AT, ticket_id=7, team="support", channel="email",
                    priority="normal", tags=("x",)),
        MetricEvent("message_in", AT, ticket_id=7, team="support", channel="email",
                    priority="normal", tags=("x", "x")),
        MetricEvent("message_out", AT, ticket_id=7, team="support", channel="email",
                    agent="sam", priority="normal", tags=("x",)),
    ]  # fmt: skip
    assert sorted(tuple(r._mapping.values()) for r in counts) == sorted(
        tuple(r.values()) for r in count_rows(now)
    )
    assert tuple(counters) == (2, 1)
