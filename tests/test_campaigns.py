"""Campaigns against a real store: segments, local send hour, once only, consent, preview CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy import func, select

from hub.config.campaigns import CampaignConfig, SegmentConfig
from hub.core.metrics import Metrics
from hub.core.replies import Replies
from hub.customers.consent import OPT_IN, OPT_OUT, record_consent
from hub.proactive.campaign_sweep import CampaignSweeper
from hub.proactive.campaigns import due_zones, in_segment, may_be_due, send_at
from hub.proactive.sweep import SweepDeps
from hub.store import Store
from hub.store.schema import (
    campaign_sends,
    customers,
    identities,
    outbox,
    purchases,
    teams,
    tickets,
)
from tests.support import ROOT, SmtpSink, base_config, hub_running, hub_url, make_config

SECRET = b"test-secret"
CREATED = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
SEND_DATE = date(2026, 5, 1)


def _campaign(**kw: Any) -> CampaignConfig:
    data: dict[str, Any] = {
        "name": "spring",
        "template": "seasonal_offer",
        "send_date": SEND_DATE.isoformat(),
        "send_hour": 10,
        "params": {"code": "SPRING10"},
    }
    return CampaignConfig.model_validate({**data, **kw})


def _sweeper(store: Store, *campaigns: CampaignConfig, **kw: Any) -> CampaignSweeper:
    deps = SweepDeps(
        store,
        Replies(ROOT / "templates", "en"),
        {"email": "mail", "telegram": "tg"},
        public_url="http://hub.test",
        secret=SECRET,
        signature="The team",
        **kw,
    )
    return CampaignSweeper(deps, list(campaigns))


async def _add(
    store: Store,
    name: str,
    *,
    tz: str = "Asia/Dhaka",
    locale: str = "en",
    tags: list[str] | None = None,
    country: str | None = None,
    email: bool = True,
    consent: dict[str, str] | None = None,
    bought: list[tuple[str, str]] | None = None,  # (amount, purchased_at ISO)
    ticket: str | None = None,  # a ticket's status
) -> int:
    async with store.write() as conn:
        cid = int(
            (
                await conn.execute(
                    customers.insert()
                    .values(
                        display_name=name,
                        locale=locale,
                        timezone=tz,
                        address={"country": country} if country else {},
                        tags=tags or [],
                        created_at=CREATED,
                        updated_at=CREATED,
                    )
                    .returning(customers.c.id)
                )
            ).scalar_one()
        )
        if email:
            await conn.execute(
                identities.insert().values(
                    customer_id=cid,
                    kind="email",
                    value=f"{name.lower()}@example.com",
                    unreachable=False,
                    created_at=CREATED,
                )
            )
        for channel, status in (consent if consent is not None else {"email": OPT_IN}).items():
            await record_consent(store, conn, cid, channel, status, "test")
        for i, (amount, at) in enumerate(bought or []):
            await conn.execute(
                purchases.insert().values(
                    customer_id=cid,
                    order_ref=f"{name}-{i}",
                    amount=Decimal(amount),
                    currency="USD",
                    purchased_at=datetime.fromisoformat(at),
                    created_at=CREATED,
                )
            )
        if ticket:
            if not (await conn.execute(select(teams.c.id))).first():
                await conn.execute(teams.insert().values(id="support", name="Support"))
            await conn.execute(
                tickets.insert().values(
                    customer_id=cid,
                    channel="email",
                    connector_id="mail",
                    team_id="support",
                    status=ticket,
                    priority="normal",
                    tags=[],
                    created_at=CREATED,
                    updated_at=CREATED,
                    last_message_at=CREATED,
                )
            )
    return cid


SEGMENT_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({}, {"Ann", "Bo", "Cy", "Di", "Ed"}),
    ({"tags": ["vip"]}, {"Ann", "Bo"}),
    ({"tags": ["vip", "eu"]}, {"Bo"}),
    ({"locale": "bn"}, {"Cy", "Di"}),
    ({"locale": "bn_BD"}, {"Di"}),
    ({"country": "bd"}, {"Ann", "Cy"}),
    ({"purchased_after": "2025-06-01"}, {"Ann", "Bo"}),
    ({"purchased_before": "2025-06-01"}, {"Bo", "Cy"}),
    ({"purchase_above": "100"}, {"Bo"}),
    ({"purchased_after": "2025-06-01", "purchase_above": "100"}, {"Bo"}),
    ({"purchased_before": "2025-06-01", "purchase_above": "100"}, set()),
    ({"open_ticket": True}, {"Ann"}),
    ({"open_ticket": False}, {"Bo", "Cy", "Di", "Ed"}),
    ({"tags": ["vip"], "open_ticket": False, "country": "DE"}, {"Bo"}),
]


async def test_segment_filters(storage_url: str) -> None:
    store = Store(storage_url)
    await store.migrate()
    try:
        await _add(
            store,
            "Ann",
            tags=["vip"],
            country="BD",
            bought=[("50.00", "2025-07-01T10:00:00+00:00")],
            ticket="open",
        )
        await _add(
            store,
            "Bo",
            tags=["vip", "eu"],
            country="DE",
            bought=[
                ("20.00", "2025-01-01T00:00:00+00:00"),
                ("150.00", "2025-08-01T00:00:00+06:00"),
            ],
            ticket="solved",
        )
        await _add(
            store, "Cy", locale="bn", country="bd", bought=[("100.00", "2025-05-31T23:59:00+00:00")]
        )
        await _add(store, "Di", locale="bn_BD", tags=["eu"])
        await _add(store, "Ed")
        got = {}
        for segment, _ in SEGMENT_CASES:
            campaign = _campaign(segment=segment)
            preview = await _sweeper(store, campaign).preview(campaign, sample_size=100)
            got[str(segment)] = {t.name for t in preview.sample}
            assert preview.in_segment == len(preview.sample)
    finally:
        await store.close()
    assert got == {str(segment): want for segment, want in SEGMENT_CASES}


def test_in_segment_reads_tags_locale_and_country() -> None:
    seg = SegmentConfig(tags=["a", "b"], locale="bn", country="bd")
    assert in_segment(seg, ["b", "a", "c"], "bn-BD", {"country": "BD"})
    assert not in_segment(seg, ["a"], "bn", {"country": "BD"})
    assert not in_segment(seg, ["a", "b"], "en", {"country": "BD"})
    assert not in_segment(seg, ["a", "b"], "bn", {})
    assert not in_segment(seg, ["a", "b"], "bn", {"country": 7})


# (zone, local send date, hour) -> UTC instant; DST gaps move on, repeated hours send once.
SEND_CASES = [
    ("Asia/Dhaka", date(2026, 5, 1), 10, datetime(2026, 5, 1, 4, 0)),
    ("Asia/Kathmandu", date(2026, 5, 1), 10, datetime(2026, 5, 1, 4, 15)),
    ("Asia/Kolkata", date(2026, 5, 1), 10, datetime(2026, 5, 1, 4, 30)),
    ("Pacific/Kiritimati", date(2026, 5, 1), 10, datetime(2026, 4, 30, 20, 0)),
    ("Etc/GMT+12", date(2026, 5, 1), 10, datetime(2026, 5, 1, 22, 0)),
    ("America/Sao_Paulo", date(2026, 5, 1), 10, datetime(2026, 5, 1, 13, 0)),
    # 02:00 does not exist on 8 March 2026 in New York: 03:00 EDT.
    ("America/New_York", date(2026, 3, 8), 2, datetime(2026, 3, 8, 7, 0)),
    # 01:00 happens twice on 25 October 2026 in London: the first, still BST.
    ("Europe/London", date(2026, 10, 25), 1, datetime(2026, 10, 25, 0, 0)),
    ("Australia/Lord_Howe", date(2026, 10, 4), 2, datetime(2026, 10, 3, 15, 30)),
]


@pytest.mark.parametrize(("zone", "day", "hour", "utc"), SEND_CASES)
def test_local_send_hour_in_each_zone(zone: str, day: date, hour: int, utc: datetime) -> None:
    campaign = _campaign(send_date=day.isoformat(), send_hour=hour)
    at = send_at(campaign, zone)
    assert at == utc.replace(tzinfo=UTC)
    assert may_be_due(campaign, at)
    assert due_zones(campaign, [zone, "No/Such_Zone"], at - timedelta(seconds=1)) == set()
    assert due_zones(campaign, [zone], at) == {zone}
    assert due_zones(campaign, [zone], at + timedelta(hours=11, minutes=59)) == {zone}
    assert due_zones(campaign, [zone], at + timedelta(hours=12)) == set()  # never stale


async def test_sent_at_local_hour_once_across_sweeps(storage_url: str) -> None:
    store = Store(storage_url)
    await store.migrate()
    metrics = Metrics()
    try:
        dhaka = await _add(store, "Rahim", locale="bn")
        ny = await _add(store, "Nina", tz="America/New_York")
        campaign = _campaign()
        off = _campaign(name="off", enabled=False)
        broken = _campaign(name="broken", template="no_such_template")  # skipped, logged
        a = _sweeper(store, campaign, off, broken, metrics=metrics)
        other = Store(storage_url)
        b = _sweeper(other, campaign)
        # 10:00 on 1 May: 04:00 UTC in Dhaka, 14:00 UTC in New York (EDT).
        assert [r.queued for r in await a.sweep(datetime(2026, 5, 1, 3, 59, tzinfo=UTC))] == [0]
        first, second = await asyncio.gather(
            a.sweep(datetime(2026, 5, 1, 4, 0, tzinfo=UTC)),
            b.sweep(datetime(2026, 5, 1, 4, 1, tzinfo=UTC)),
        )
        assert first[0].queued + second[0].queued == 1
        again = await b.sweep(datetime(2026, 5, 1, 4, 10, tzinfo=UTC))
        assert again[0].queued == 0 and again[0].candidates == 0
        assert (await a.sweep(datetime(2026, 5, 1, 14, 0, tzinfo=UTC)))[0].queued == 1
        # Someone new in Dhaka after the window: a stale offer is never sent.
        await _add(store, "Late")
        assert (await a.sweep(datetime(2026, 5, 1, 16, 0, tzinfo=UTC)))[0].queued == 0
        assert await a.sweep(datetime(2026, 6, 1, tzinfo=UTC)) == []
        await other.close()
        async with store.read() as conn:
            rows = (await conn.execute(select(outbox).order_by(outbox.c.id))).all()
            sends = (await conn.execute(select(func.count()).select_from(campaign_sends))).scalar()
    finally:
        await store.close()
    assert [(r.customer_id, r.kind, r.consent_channel) for r in rows] == [
        (dhaka, "campaign:spring", "email"),
        (ny, "campaign:spring", "email"),
    ]
    assert sends == 2
    assert rows[0].subject.startswith("আপনার জন্য নতুন কিছু, Rahim")
    assert "SPRING10" in rows[0].body_text and "http://hub.test/unsubscribe/" in rows[0].body_text
    assert rows[1].subject == "Something new for you, Nina"
    assert rows[1].list_unsubscribe.startswith("http://hub.test/unsubscribe/")
    queued = metrics.registry.get_sample_value("hub_campaign_queued_total", {"campaign": "spring"})
    assert queued is not None and queued >= 1  # the other sweeper had no metrics


async def test_consent_picks_the_channel_and_opt_out_skips(storage_url: str) -> None:
    store = Store(storage_url)
    await store.migrate()
    try:
        await _add(store, "In")
        await _add(store, "Out", consent={"email": OPT_OUT})
        await _add(store, "Silent", consent={})
        await _add(store, "Gone", email=False)
        tg = await _add(store, "Tele", consent={"email": OPT_OUT, "telegram": OPT_IN})
        async with store.write() as conn:
            await conn.execute(
                identities.insert().values(
                    customer_id=tg,
                    kind="telegram",
                    value="4242",
                    unreachable=False,
                    created_at=CREATED,
                )
            )
        campaign = _campaign(channel_order=["email", "telegram"])
        result = await _sweeper(store, campaign).sweep(datetime(2026, 5, 1, 4, 0, tzinfo=UTC))
        async with store.read() as conn:
            rows = (await conn.execute(select(outbox.c.recipient_kind, outbox.c.recipient))).all()
    finally:
        await store.close()
    assert result[0].queued == 2
    assert sorted(map(tuple, rows)) == [("email", "in@example.com"), ("telegram", "4242")]
    assert result[0].skipped == {
        "opted out of email; no consent for telegram": 1,
        "no consent for email; no consent for telegram": 1,
        "no reachable email identity; no consent for telegram": 1,
    }


async def test_opt_out_after_queueing_stops_the_send(tmp_path: Path, smtp: SmtpSink) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/h.db"
    store = Store(url)
    await store.migrate()
    try:
        keep = await _add(store, "Keep")
        leave = await _add(store, "Leave")
        campaign = _campaign()
        result = await _sweeper(store, campaign).sweep(datetime(2026, 5, 1, 4, 0, tzinfo=UTC))
        assert result[0].queued == 2
        async with store.write() as conn:
            await record_consent(store, conn, leave, "email", OPT_OUT, "test")
    finally:
        await store.close()
    data = base_config(url, smtp.port)
    data["campaigns"] = [campaign.model_dump(mode="json")]
    async with hub_running(make_config(data)) as hub, aiohttp.ClientSession() as http:
        [mail] = await smtp.wait_for(1)
        # The mail arrives a moment before the outbox marks its row sent.
        for _ in range(200):
            async with hub.store.read() as conn:
                rows = (await conn.execute(select(outbox.c.customer_id, outbox.c.status))).all()
            states = dict(rows)
            async with http.get(hub_url(hub, "/metrics")) as resp:
                text = await resp.text()
            if "pending" not in {status for _, status in rows}:
                break
            await asyncio.sleep(0.05)
    assert len(rows) == 2, rows
    assert mail["To"].endswith("<keep@example.com>")
    assert mail["List-Unsubscribe"]
    assert states == {keep: "sent", leave: "cancelled"}
    assert 'hub_campaign_pending{campaign="spring"} 0.0' in text


def test_config_refuses_bad_campaigns() -> None:
    with pytest.raises(ValidationError):
        _campaign(name="a-name-far-too-long-for-the-kind")
    with pytest.raises(ValidationError):
        _campaign(channel_order=["email", "email"])
    with pytest.raises(ValidationError):
        _campaign(segment={"colour": "red"})
    data = base_config("sqlite+aiosqlite:///x.db")
    data["campaigns"] = [_campaign().model_dump(mode="json")] * 2
    with pytest.raises(Exception, match="campaign names must be unique"):
        make_config(data)


async def test_preview_cli(storage_url: str, tmp_path: Path) -> None:
    store = Store(storage_url)
    await store.migrate()
    try:
        await _add(store, "Ann", tags=["vip"])
        await _add(store, "Bo", tags=["vip"], consent={"email": OPT_OUT})
        await _add(store, "Cy", tags=["vip"], tz="America/New_York")
        await _add(store, "Di")
    finally:
        await store.close()
    data = base_config(storage_url)
    data["campaigns"] = [_campaign(segment={"tags": ["vip"]}).model_dump(mode="json")]
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    def hub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hub", "campaigns", "preview", *args, "--config", str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )

    done = hub("spring")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:6] == [
        "campaign spring: template seasonal_offer, 2026-05-01 at 10:00 in each customer's "
        "time zone (enabled)",
        "in segment: 3",
        "would send: 2 (email: 2)",
        "already sent: 0",
        "skipped: 1",
        "  opted out of email: 1",
    ]
    assert lines[6] == "sample (3):"
    assert lines[7].startswith("  customer ") and "(Ann, en, Asia/Dhaka)" in lines[7]
    assert "2026-05-01 10:00 local = 2026-05-01 04:00 UTC, via email to ann@example.com" in lines[7]
    assert "SKIPPED: opted out of email" in lines[8]
    assert "2026-05-01 14:00 UTC" in lines[9]
