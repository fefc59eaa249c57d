"""The greetings sweep against a real store: due once, consent, channels, opt-out (two
sweeping processes: tests/test_greeting_sweep_processes.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import aiohttp
from sqlalchemy import func, select

from hub.config.greetings import GreetingsConfig
from hub.core.replies import Replies
from hub.customers.consent import OPT_IN, OPT_OUT, make_opt_out_token, record_consent
from hub.customers.occasions import md_columns
from hub.proactive.greeting_sweep import GreetingSweeper
from hub.proactive.sweep import SweepDeps
from hub.store import Store
from hub.store.schema import consents, customers, greeting_sends, identities, outbox
from tests.support import ROOT, SmtpSink, base_config, hub_running, hub_url, make_config

SECRET = b"test-secret"
CREATED = datetime(2020, 3, 10, 12, 0, tzinfo=UTC)


async def _add_customer(
    store: Store,
    *,
    name: str,
    tz: str,
    birthday: date | None = None,
    anniversary: date | None = None,
    email: str | None = None,
    consent: str | None = OPT_IN,
    locale: str = "en",
    created: datetime = CREATED,
) -> int:
    async with store.write() as conn:
        cid = (
            await conn.execute(
                customers.insert()
                .values(
                    md_columns(
                        dict(
                            display_name=name,
                            locale=locale,
                            timezone=tz,
                            address={},
                            tags=[],
                            birthday=birthday,
                            anniversary=anniversary,
                            created_at=created,
                            updated_at=created,
                        )
                    )
                )
                .returning(customers.c.id)
            )
        ).scalar_one()
        if email:
            await conn.execute(
                identities.insert().values(
                    customer_id=cid,
                    kind="email",
                    value=email,
                    unreachable=False,
                    created_at=created,
                )
            )
        if consent:
            await record_consent(store, conn, cid, "email", consent, "test")
    return int(cid)


def _sweeper(store: Store, **kw: Any) -> GreetingSweeper:
    config = GreetingsConfig.model_validate(
        {"send_hour": 9, "offer": {"en": "Take 10% off this week."}, **kw}
    )
    deps = SweepDeps(
        store,
        Replies(ROOT / "templates", "en"),
        {"email": "mail"},
        public_url="http://hub.test",
        secret=SECRET,
        signature="The team",
    )
    return GreetingSweeper(deps, config)


async def test_sweep_queues_due_greetings_once_in_local_time(storage_url: str) -> None:
    store = Store(storage_url)
    await store.migrate()
    try:
        # 9:00 on 14 May is 03:00 UTC in Dhaka (+6) and 13:00 UTC in New York (-4).
        dhaka = await _add_customer(
            store, name="Rahim", tz="Asia/Dhaka", birthday=date(1990, 5, 14), email="r@example.com"
        )
        ny = await _add_customer(
            store,
            name="Nina",
            tz="America/New_York",
            birthday=date(1985, 5, 14),
            email="n@example.com",
        )
        await _add_customer(
            store,
            name="Out",
            tz="Asia/Dhaka",
            birthday=date(1990, 5, 14),
            email="o@example.com",
            consent=OPT_OUT,
        )
        await _add_customer(
            store,
            name="Silent",
            tz="Asia/Dhaka",
            birthday=date(1990, 5, 14),
            consent=None,
            email="s@example.com",
        )
        sweeper = _sweeper(store)
        before = await sweeper.sweep(datetime(2026, 5, 14, 2, 59, tzinfo=UTC))
        assert before.queued == 0
        at_dhaka = await sweeper.sweep(datetime(2026, 5, 14, 3, 0, tzinfo=UTC))
        assert at_dhaka.queued == 1
        assert at_dhaka.skipped == {"opted out of email": 1, "no consent for email": 1}
        again = await sweeper.sweep(datetime(2026, 5, 14, 3, 5, tzinfo=UTC))
        assert again.queued == 0 and again.already == 1
        at_ny = await sweeper.sweep(datetime(2026, 5, 14, 13, 0, tzinfo=UTC))
        assert at_ny.queued == 1
        # After the catch-up window (12 h) nothing stale goes out.
        late = _sweeper(store, occasions=["birthday"])
        assert (await late.sweep(datetime(2026, 5, 15, 2, 0, tzinfo=UTC))).queued == 0
        async with store.read() as conn:
            rows = (await conn.execute(select(outbox).order_by(outbox.c.id))).all()
            sends = (await conn.execute(select(func.count()).select_from(greeting_sends))).scalar()
    finally:
        await store.close()
    assert [(r.customer_id, r.recipient, r.kind) for r in rows] == [
        (dhaka, "r@example.com", "greeting:birthday"),
        (ny, "n@example.com", "greeting:birthday"),
    ]
    assert sends == 2
    assert rows[0].subject == "Happy birthday, Rahim!"
    assert "Take 10% off this week." in rows[0].body_text
    assert rows[0].consent_channel == "email"
    assert rows[0].list_unsubscribe.startswith("http://hub.test/unsubscribe/")


async def test_leap_day_birthday_goes_out_on_28_february(storage_url: str) -> None:
    store = Store(storage_url)
    await store.migrate()
    try:
        await _add_customer(
            store,
            name="Leap",
            tz="Europe/London",
            birthday=date(2000, 2, 29),
            email="l@example.com",
        )
        feb28 = await _sweeper(store).sweep(datetime(2027, 2, 28, 9, 0, tzinfo=UTC))
        store2 = _sweeper(store, feb29="mar1")
        mar1 = await store2.sweep(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    finally:
        await store.close()
    assert feb28.queued == 1
    assert mar1.queued == 0 and mar1.already == 1  # once per year, whatever the rule says


async def test_preview_says_who_gets_what_and_who_is_skipped(storage_url: str) -> None:
    store = Store(storage_url)
    await store.migrate()
    try:
        await _add_customer(
            store, name="Ann", tz="Asia/Kolkata", birthday=date(1991, 7, 1), email="a@example.com"
        )
        await _add_customer(store, name="Bo", tz="UTC", anniversary=date(2015, 7, 1), consent=None)
        plans = await _sweeper(store).preview(date(2026, 7, 1))
    finally:
        await store.close()
    by_name = {p.customer_name: p for p in plans}
    ann, bo = by_name["Ann"], by_name["Bo"]
    assert ann.channel == "email" and ann.greeting.key.occasion == "birthday"
    assert ann.greeting.send_at == datetime(2026, 7, 1, 3, 30, tzinfo=UTC)  # 09:00 IST
    assert bo.channel is None and "no consent for email" in (bo.reason or "")
    assert bo.greeting.years == 11


async def test_opt_out_link_works_end_to_end(tmp_path: Any, smtp: SmtpSink) -> None:
    config = make_config(base_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        cid = await _add_customer(
            hub.store, name="Ann", tz="UTC", birthday=date(1990, 1, 2), email="ann@example.com"
        )
        url = hub_url(hub, f"/unsubscribe/{make_opt_out_token(cid, 'email', hub.secret)}")
        async with http.get(url) as resp:
            assert resp.status == 200 and "Stop them" in await resp.text()
        async with hub.store.read() as conn:
            assert (await conn.execute(select(consents.c.status))).scalar() == OPT_IN
        async with http.post(url) as resp:
            assert resp.status == 200
        forged = hub_url(hub, f"/unsubscribe/{make_opt_out_token(cid, 'email', b'wrong')}")
        async with http.post(forged) as resp:
            assert resp.status == 404
        async with hub.store.read() as conn:
            assert (await conn.execute(select(consents.c.status))).scalar() == OPT_OUT
        result = await hub.sweeper.sweep(datetime(2027, 1, 2, 9, 0, tzinfo=UTC))  # type: ignore[union-attr]
    assert result.queued == 0 and result.skipped == {"opted out of email": 1}


async def test_opt_out_between_sweep_and_send_stops_the_greeting(
    tmp_path: Any, smtp: SmtpSink
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/h.db"
    store = Store(url)
    await store.migrate()
    try:
        keep = await _add_customer(
            store, name="Keep", tz="UTC", birthday=date(1990, 3, 3), email="keep@example.com"
        )
        leave = await _add_customer(
            store, name="Leave", tz="UTC", birthday=date(1991, 3, 3), email="leave@example.com"
        )
        # A sweep in the past, so the queued rows are due now.
        swept = await _sweeper(store).sweep(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
        assert swept.queued == 2
        async with store.write() as conn:
            await record_consent(store, conn, leave, "email", OPT_OUT, "reply STOP")
    finally:
        await store.close()
    config = make_config(base_config(url, smtp.port))
    async with hub_running(config) as hub:
        [mail] = await smtp.wait_for(1)
        for _ in range(200):
            async with hub.store.read() as conn:
                rows = (await conn.execute(select(outbox.c.customer_id, outbox.c.status))).all()
            if "pending" not in {status for _, status in rows}:
                break
            await asyncio.sleep(0.05)
    assert mail["To"] == "Keep <keep@example.com>"
    assert mail["Subject"] == "Happy birthday, Keep!"
    assert mail["List-Unsubscribe"].strip().startswith("<http://hub.test/unsubscribe/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert sorted(rows) == sorted([(keep, "sent"), (leave, "cancelled")])
