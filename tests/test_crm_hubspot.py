"""CRM sync with HubSpot: the hub's real client against a loopback fake of the v3 API."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.hubspot import HUBSPOT, HubSpotConfig
from tests.crm_support import (
    Clock,
    agent_edit,
    customer,
    erase,
    links,
    many_customers,
    migrated,
    new_customers,
    remote_id,
    syncer,
)
from tests.fakes.hubspot import Fault, FakeHubSpot

TOKEN = "pat-na1-test-token-0123"
FIELDS = [
    {"hub": "display_name", "crm": "firstname"},
    {"hub": "email", "crm": "email"},
    {"hub": "phone", "crm": "phone"},
    {"hub": "address.city", "crm": "city"},
    {"hub": "tags", "crm": "hub_tags", "direction": "hub->crm"},
    {"hub": "birthday", "crm": "date_of_birth"},
]


def config(fake: FakeHubSpot, token: str = TOKEN, **sync: Any) -> HubSpotConfig:
    return HubSpotConfig.model_validate(
        {
            "id": "hubspot",
            "type": "hubspot",
            "token": token,
            "base_url": fake.url,
            "sync": {"fields": FIELDS, **sync},
        }
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeHubSpot]:
    server = await FakeHubSpot(TOKEN).start()
    yield server
    await server.stop()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Any]:
    async with migrated(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}") as s:
        yield s


async def test_five_thousand_customers_pushed_in_batches_within_the_rate_limit(
    store: Any, fake: FakeHubSpot
) -> None:
    # 20 requests per half second: 50 batches must be paced by the rate headers.
    fake.max_requests, fake.window_seconds = 20, 0.5
    people = [
        {"email": f"person{i}@example.com", "display_name": f"Person {i}", "tags": ["vip"]}
        for i in range(5000)
    ]
    ids = await many_customers(store, people)
    sync = syncer(store, HUBSPOT, config(fake, batch_size=100), Clock(), real_time=True)
    started = time.monotonic()
    report = await sync.push_once()
    elapsed = time.monotonic() - started
    await sync.close()

    assert report.pushed == 5000 and report.refused == 0
    assert fake.over_limit == 0
    assert len(fake.live()) == 5000
    writes = [r for r in fake.requests if r[1].endswith("/batch/upsert")]
    assert len(writes) == 50 and all(len(r[2]["inputs"]) == 100 for r in writes)
    last = fake.by("email", "person4999@example.com")
    assert last is not None
    assert last.properties["firstname"] == "Person 4999"
    assert last.properties["hub_customer_id"] == str(ids[-1])
    assert last.properties["hub_tags"] == "vip"
    assert await remote_id(store, ids[-1], "hubspot") == last.id
    assert all(link.due_at is None for link in await links(store, "hubspot"))
    # 50 writes at 20 per 0.5 s need at least one full window of waiting.
    assert elapsed >= 0.5


async def test_existing_contacts_are_found_by_email_then_phone_not_duplicated(
    store: Any, fake: FakeHubSpot
) -> None:
    by_email = fake.add({"email": "rahim@example.com", "firstname": "R."})
    by_phone = fake.add({"phone": "+8801712345678", "firstname": "K."})
    rahim, karim, new = await new_customers(
        store,
        [
            {"email": "Rahim@Example.com", "display_name": "Rahim"},
            {"phone": "01712345678", "display_name": "Karim"},
            {"phone": "01812345678", "display_name": "Nadia"},
        ],
    )
    sync = syncer(store, HUBSPOT, config(fake), Clock())
    report = await sync.push_once()
    await sync.close()

    assert report.pushed == 3
    assert len(fake.live()) == 3
    assert await remote_id(store, rahim, "hubspot") == by_email.id
    assert await remote_id(store, karim, "hubspot") == by_phone.id
    assert by_email.properties["firstname"] == "Rahim"
    assert by_phone.properties["firstname"] == "Karim"
    assert by_phone.properties["hub_customer_id"] == str(karim)
    created = fake.by("hub_customer_id", str(new))
    assert created is not None and created.properties["phone"] == "+8801812345678"
    assert await remote_id(store, new, "hubspot") == created.id


async def test_a_second_push_updates_by_the_stored_id_and_is_idempotent(
    store: Any, fake: FakeHubSpot
) -> None:
    (rahim,) = await new_customers(store, [{"email": "rahim@example.com", "display_name": "R"}])
    clock = Clock()
    sync = syncer(store, HUBSPOT, config(fake), clock)
    await sync.push_once()
    await agent_edit(store, rahim, display_name="Rahim Uddin", address={"city": "Dhaka"})
    await sync.push_once()
    await sync.push_once()  # nothing due: nothing sent
    await sync.close()

    writes = [r for r in fake.requests if "/batch/" in r[1]]
    assert [w[1].rsplit("/", 1)[1] for w in writes] == ["upsert", "update"]
    assert writes[1][2]["inputs"][0]["id"] == await remote_id(store, rahim, "hubspot")
    (contact,) = fake.live()
    assert contact.properties["firstname"] == "Rahim Uddin"
    assert contact.properties["city"] == "Dhaka"


async def test_a_record_refused_in_a_207_is_retried_and_the_rest_land(
    store: Any, fake: FakeHubSpot
) -> None:
    fake.invalid_emails = {"bad@example.com"}
    good, bad = await new_customers(
        store, [{"email": "good@example.com"}, {"email": "bad@example.com"}]
    )
    clock = Clock()
    sync = syncer(store, HUBSPOT, config(fake), clock)
    report = await sync.push_once()
    assert (report.pushed, report.refused) == (1, 1)
    assert await remote_id(store, good, "hubspot") is not None
    failed = [link for link in await links(store, "hubspot") if link.customer_id == bad]
    assert failed[0].due_at > clock.now() and "VALIDATION_ERROR" in failed[0].last_error

    fake.invalid_emails = set()
    clock.advance(minutes=20)
    report = await sync.push_once()
    await sync.close()
    assert report.pushed == 1
    assert await remote_id(store, bad, "hubspot") is not None
    assert all(link.due_at is None for link in await links(store, "hubspot"))


async def test_a_ten_secondly_429_is_waited_out_as_its_policy_says(
    store: Any, fake: FakeHubSpot
) -> None:
    fake.faults.append(
        Fault(429, {"status": "error", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"})
    )
    await new_customers(store, [{"email": "a@example.com"}])
    clock = Clock()
    sync = syncer(store, HUBSPOT, config(fake), clock)
    report = await sync.push_once()
    await sync.close()
    assert clock.slept == [10.0]
    assert report.pushed == 1 and len(fake.live()) == 1


async def test_a_daily_429_ends_the_round_and_the_change_waits(
    store: Any, fake: FakeHubSpot
) -> None:
    fake.faults.append(Fault(429, {"status": "error", "policyName": "DAILY"}))
    (a,) = await new_customers(store, [{"email": "a@example.com"}])
    clock = Clock()
    sync = syncer(store, HUBSPOT, config(fake), clock)
    report = await sync.push_once()
    assert report.pushed == 0 and report.paused_until == clock.now() + timedelta(hours=1)
    assert clock.slept == []
    clock.advance(minutes=59)
    assert (await sync.push_once()).pushed == 0
    clock.advance(minutes=2)
    assert (await sync.push_once()).pushed == 1
    await sync.close()
    assert await remote_id(store, a, "hubspot") is not None


async def test_a_crm_outage_of_several_minutes_loses_nothing(
    store: Any, fake: FakeHubSpot
) -> None:
    first = await new_customers(store, [{"email": f"c{i}@example.com"} for i in range(30)])
    clock = Clock()
    sync = syncer(store, HUBSPOT, config(fake, batch_size=10), clock)
    fake.down = True
    attempts = 0
    for _ in range(24):  # twelve minutes, a round every 30 s
        await sync.push_once()
        attempts += 1
        if attempts == 5:  # changes keep coming during the outage
            await agent_edit(store, first[0], display_name="Changed during the outage")
            await new_customers(store, [{"email": "late@example.com"}])
        clock.advance(seconds=30)
    assert fake.live() == []
    assert sum(r[1].endswith("/batch/upsert") for r in fake.requests) > 3  # it kept trying

    fake.down = False
    clock.advance(minutes=16)  # past the longest backoff
    report = await sync.push_once()
    await sync.close()
    assert report.pushed == 31
    assert len(fake.live()) == 31
    assert fake.by("email", "c0@example.com").properties["firstname"] == (  # type: ignore[union-attr]
        "Changed during the outage"
    )
    assert all(link.due_at is None for link in await links(store, "hubspot"))


async def test_a_bad_token_is_an_error_the_round_survives(store: Any, fake: FakeHubSpot) -> None:
    await new_customers(store, [{"email": "a@example.com"}])
    bad = config(fake, token="wrong-token")
    clock = Clock()
    sync = syncer(store, HUBSPOT, bad, clock)
    report = await sync.push_once()
    await sync.close()
    assert report.pushed == 0 and report.paused_until is not None
    (link,) = await links(store, "hubspot")
    assert "refused the token" in link.last_error and link.due_at is not None
