"""Two hub processes sweeping greetings on one PostgreSQL database: each greeting queued
once, though one sweep is cut off mid-sweep; the expected set is worked out apart from
hub.proactive.greetings."""

from __future__ import annotations

import asyncio
import calendar
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hub.customers.consent import OPT_IN
from hub.customers.occasions import md_columns
from hub.proactive.greeting_sweep import GreetingSweeper, Planned
from hub.proactive.sweep import SweepDeps
from hub.store import Store
from hub.store.schema import consents, customers, greeting_sends, identities, outbox
from tests.test_greeting_sweep import CREATED, SECRET, _sweeper


class CutAfterFirstPage(GreetingSweeper):
    """A sweeper whose task is cancelled as soon as its first page is committed, as a kill
    between two pages would cut it: the cut is known to fall mid-sweep."""

    queued_before_cut: int | None = None

    async def _queue(self, plans: list[Planned], now: datetime) -> int:
        queued = await super()._queue(plans, now)
        if self.queued_before_cut is None:
            self.queued_before_cut = queued
            task = asyncio.current_task()
            assert task is not None
            task.cancel()  # lands at the sweep's next await: reading the next page
        return queued


def birthday_send_at(tz: str, birthday: date, year: int) -> datetime:
    """When a birthday greeting goes out, worked out apart from hub.proactive.greetings:
    09:00 on the day in the customer's zone, 29 February on 28 February in a common year.
    (The test's zones have no clock change at 09:00 in June.)"""
    day = birthday.day
    if (birthday.month, day) == (2, 29) and not calendar.isleap(year):
        day = 28
    return datetime(year, birthday.month, day, 9, tzinfo=ZoneInfo(tz)).astimezone(UTC)


async def test_two_sweepers_on_one_database_queue_each_greeting_once(pg_url: str) -> None:
    """Two hub processes sweeping through a day of 10,000 customers, one cut off mid-sweep
    (PostgreSQL only: SQLite serves one hub process by design)."""
    storage_url = pg_url
    store = Store(storage_url)
    await store.migrate()
    rng = random.Random(7)
    zones = [
        "Asia/Dhaka",
        "Pacific/Kiritimati",
        "Etc/GMT+12",
        "Asia/Kathmandu",
        "America/New_York",
        "Europe/London",
        "Australia/Lord_Howe",
        "America/Sao_Paulo",
    ]
    n = 10_000
    try:
        async with store.write() as conn:
            batch = []
            for i in range(n):
                bday = date(1980 + i % 30, 1, 1) + timedelta(days=rng.randint(0, 364))
                batch.append(
                    md_columns(
                        dict(
                            display_name=f"C{i}",
                            locale="en",
                            timezone=rng.choice(zones),
                            address={},
                            tags=[],
                            birthday=bday,
                            created_at=CREATED,
                            updated_at=CREATED,
                        )
                    )
                )
            await conn.execute(customers.insert(), batch)
            ids = [r.id for r in await conn.execute(select(customers.c.id, customers.c.timezone))]
            await conn.execute(
                identities.insert(),
                [
                    dict(
                        customer_id=c,
                        kind="email",
                        value=f"c{c}@example.com",
                        unreachable=False,
                        created_at=CREATED,
                    )
                    for c in ids
                ],
            )
            await conn.execute(
                consents.insert(),
                [
                    dict(
                        customer_id=c,
                        channel="email",
                        status=OPT_IN,
                        source="t",
                        recorded_at=CREATED,
                    )
                    for c in ids
                ],
            )
            people = (
                await conn.execute(
                    select(customers.c.id, customers.c.timezone, customers.c.birthday)
                )
            ).all()
        other = Store(storage_url)
        a = _sweeper(store, occasions=["birthday"])
        b = CutAfterFirstPage(
            SweepDeps(
                other,
                a.replies,
                a.senders,
                public_url="http://hub.test",
                secret=SECRET,
                signature="x",
            ),
            a.config,
            page_size=50,
        )
        start = datetime(2026, 6, 15, 0, 0, tzinfo=UTC)
        catch_up = timedelta(hours=12)  # the default, which the sweepers use
        assert a.rules.catch_up == catch_up
        # A sweep of process b is cut off after its first page, as a kill would.
        cut_at = start + timedelta(hours=12)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.create_task(b.sweep(cut_at))
        async with store.read() as conn:
            cut_keys = {
                tuple(r)
                for r in await conn.execute(
                    select(
                        greeting_sends.c.customer_id,
                        greeting_sends.c.occasion,
                        greeting_sends.c.year,
                    )
                )
            }
        # Every 10 minutes (twice the default interval, to keep the suite quick).
        for step in range(0, 24 * 6):
            now = start + timedelta(minutes=10 * step)
            await asyncio.gather(a.sweep(now), b.sweep(now))
        async with store.read() as conn:
            keys = [
                tuple(r)
                for r in await conn.execute(
                    select(
                        greeting_sends.c.customer_id,
                        greeting_sends.c.occasion,
                        greeting_sends.c.year,
                    )
                )
            ]
            queued = (
                await conn.execute(
                    select(outbox.c.customer_id).where(outbox.c.kind == "greeting:birthday")
                )
            ).all()
        await other.close()
    finally:
        await store.close()
    last_sweep = start + timedelta(minutes=10 * (24 * 6 - 1))
    # Due at some sweep: sent after the first sweep's catch-up window opens, by the last.
    expected = {
        (cid, "birthday", 2026)
        for cid, tz, bday in people
        if start - catch_up < birthday_send_at(tz, bday, 2026) <= last_sweep
    }
    due_at_cut = {
        (cid, "birthday", 2026)
        for cid, tz, bday in people
        if cut_at - catch_up < birthday_send_at(tz, bday, 2026) <= cut_at
    }
    # The cut came mid-sweep: its first page was queued, not all that was due.
    assert b.queued_before_cut == len(cut_keys)
    assert cut_keys and cut_keys < due_at_cut
    assert len(keys) == len(set(keys))
    assert set(keys) == expected
    assert sorted(r.customer_id for r in queued) == sorted(k[0] for k in expected)
    assert len(expected) > 15  # the day really had birthdays in it
