"""CRM sync with HubSpot: the hub's real client against a loopback fake of the v3 API."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.hubspot import HUBSPOT, HubSpotConfig
from hub.config.alerts import AlertsConfig
from hub.crm.pull import PullReport
from hub.customers.records import CustomerCreate, IdentityIn, add_identity, create_customer
from hub.notify.alerts import AlertWatcher
from hub.outbox.dead_letters import CRM_AUTH
from hub.store.schema import alert_events, identities
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
    sqlite_store,
    syncer,
)
from tests.fakes.hubspot import FakeHubSpot, Fault

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
    async with sqlite_store(tmp_path) as s:
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
        Fault(
            429,
            {"status": "error", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"},
        )
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


async def test_a_crm_outage_of_several_minutes_loses_nothing(store: Any, fake: FakeHubSpot) -> None:
    first = await new_customers(store, [{"email": f"c{i}@example.com"} for i in range(30)])
    clock = Clock()
    sync = syncer(store, HUBSPOT, config(fake, batch_size=10), clock)
    fake.down = True
    for attempt in range(24):  # twelve minutes, a round every 30 s
        await sync.push_once()
        if attempt == 4:  # changes keep coming during the outage
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


async def test_a_refused_token_is_one_operator_alert_until_the_crm_answers_again(
    store: Any, fake: FakeHubSpot
) -> None:
    await new_customers(store, [{"email": "a@example.com"}])
    clock = Clock()
    bad = syncer(store, HUBSPOT, config(fake, token="wrong-token"), clock, alerts=("ops",))
    await bad.push_once()
    clock.advance(hours=1)
    await bad.push_once()
    assert await bad.pull_once() == PullReport()  # the round survives, the cursor stays
    await bad.close()
    (row,) = await alert_rows(store)
    assert (row.target, row.kind, row.connector_id) == ("ops", CRM_AUTH, "hubspot")
    assert "refused the token" in row.detail and row.resolved_at is None
    async with store.read() as conn:
        post = await AlertWatcher(
            store, AlertsConfig(notify=["ops"]), {}, public_url="http://h"
        ).compose(conn, "ops", [row])
    assert "CRM hubspot refused its credentials" in post.body and "renew" in post.body
    # The token renewed: the change waiting goes out and the incident is over.
    good = syncer(store, HUBSPOT, config(fake), clock, alerts=("ops",))
    clock.advance(hours=1)
    assert (await good.push_once()).pushed == 1
    await good.close()
    (row,) = await alert_rows(store)
    assert row.resolved_at is not None


async def alert_rows(store: Any) -> list[Any]:
    async with store.read() as conn:
        return list(await conn.execute(select(alert_events).order_by(alert_events.c.id)))


async def _linked(store: Any, fake: FakeHubSpot, clock: Clock, **sync: Any) -> tuple[int, Any, Any]:
    """A customer pushed once: linked to its HubSpot contact, nothing pending."""
    (cid,) = await new_customers(
        store,
        [{"email": "rahim@example.com", "display_name": "Rahim", "address": {"city": "Dhaka"}}],
    )
    s = syncer(store, HUBSPOT, config(fake, **sync), clock)
    assert (await s.push_once()).pushed == 1
    contact = fake.by("email", "rahim@example.com")
    return cid, s, contact


async def test_a_change_made_in_hubspot_is_pulled_into_the_hub_and_not_pushed_back(
    store: Any, fake: FakeHubSpot
) -> None:
    clock = Clock()
    cid, sync, contact = await _linked(store, fake, clock)
    fake.edit(
        contact.id,
        {"firstname": "Rahim Uddin", "city": "Chattogram", "date_of_birth": "1990-04-01"},
    )
    stranger = fake.add(
        {
            "email": "new@example.com",
            "firstname": "Nadia",
            "phone": "+8801912345678",
            "hub_customer_id": "9" * 30,  # no customer id of ours: matched by email instead
        }
    )
    report = await sync.pull_once()
    assert (report.changed, report.created) == (1, 1)
    row = await customer(store, cid)
    assert row.display_name == "Rahim Uddin"
    assert row.address == {"city": "Chattogram"}
    assert str(row.birthday) == "1990-04-01"

    before = len(fake.requests)
    assert (await sync.push_once()).pushed == 0  # the pulled change is not sent back
    assert len(fake.requests) == before
    again = await sync.pull_once()  # the overlap reads both again: nothing changes
    await sync.close()
    assert again.seen >= 2 and again.changed == 0 and again.created == 0

    async with store.read() as conn:
        owner = (
            await conn.execute(
                select(identities.c.customer_id).where(identities.c.value == stranger.id)
            )
        ).scalar_one()
    assert (await customer(store, owner)).display_name == "Nadia"


@pytest.mark.parametrize(
    ("policy", "crm_later", "winner"),
    [
        ("hub_wins", True, "hub"),
        ("crm_wins", False, "crm"),
        ("most_recent", True, "crm"),
        ("most_recent", False, "hub"),
    ],
)
async def test_a_conflict_ends_with_the_policys_value_on_both_sides(
    store: Any, fake: FakeHubSpot, policy: str, crm_later: bool, winner: str
) -> None:
    clock = Clock()
    cid, sync, contact = await _linked(
        store, fake, clock, conflict=policy, overwrite_agent_edits=True
    )
    await agent_edit(store, cid, display_name="Hub value")
    hub_edit = (await customer(store, cid)).updated_at
    crm_time = hub_edit + (timedelta(minutes=5) if crm_later else -timedelta(minutes=5))
    fake.edit(contact.id, {"firstname": "CRM value"}, at=crm_time)
    await sync.pull_once()
    await sync.push_once()
    await sync.close()
    expected = "Hub value" if winner == "hub" else "CRM value"
    assert (await customer(store, cid)).display_name == expected
    assert fake.contacts[contact.id].properties["firstname"] == expected


@pytest.mark.parametrize("policy", ["hub_wins", "crm_wins", "most_recent"])
async def test_a_change_on_one_side_only_reaches_the_other_under_any_policy(
    store: Any, fake: FakeHubSpot, policy: str
) -> None:
    clock = Clock()
    cid, sync, contact = await _linked(store, fake, clock, conflict=policy)
    fake.edit(contact.id, {"city": "Sylhet"})  # CRM only
    await agent_edit(store, cid, display_name="Rahim U.")  # hub only
    await sync.pull_once()
    await sync.push_once()
    await sync.close()
    row = await customer(store, cid)
    assert row.address == {"city": "Sylhet"} and row.display_name == "Rahim U."
    props = fake.contacts[contact.id].properties
    assert props["city"] == "Sylhet" and props["firstname"] == "Rahim U."


async def test_an_agents_edit_is_not_overwritten_by_the_crm_unless_configured(
    store: Any, fake: FakeHubSpot
) -> None:
    clock = Clock()
    cid, sync, contact = await _linked(store, fake, clock, conflict="crm_wins")
    await agent_edit(store, cid, display_name="Typed by an agent")
    await sync.push_once()
    fake.edit(contact.id, {"firstname": "From a workflow", "city": "Khulna"})
    await sync.pull_once()
    await sync.close()
    row = await customer(store, cid)
    assert row.display_name == "Typed by an agent"  # kept: an agent set it
    assert row.address == {"city": "Khulna"}  # not an agent's: crm_wins


@pytest.mark.parametrize(("action", "left"), [("archive", "archived"), ("delete", "gone")])
async def test_an_erased_customer_is_archived_or_deleted_in_hubspot(
    store: Any, fake: FakeHubSpot, action: str, left: str, tmp_path: Path
) -> None:
    clock = Clock()
    cid, sync, contact = await _linked(store, fake, clock, erasure=action)
    await erase(store, cid, tmp_path)
    report = await sync.push_once()
    assert report.erased == 1
    if left == "archived":
        assert fake.contacts[contact.id].archived
    else:
        assert contact.id not in fake.contacts
    assert await links(store, "hubspot") == []
    # The customer and its identities are gone: a pull must not bring it back.
    assert (await sync.pull_once()).created == 0
    await sync.close()


async def test_an_event_committed_late_on_postgresql_is_not_skipped(
    pg_url: str, fake: FakeHubSpot
) -> None:
    async with migrated(pg_url) as store:
        clock = Clock()
        sync = syncer(store, HUBSPOT, config(fake), clock)
        async with store.write() as slow:
            # This transaction takes its event id first and commits last.
            early = await create_customer(
                slow,
                CustomerCreate(identities=[IdentityIn(kind="email", value="early@example.com")]),
                locales=["en"],
                default_locale="en",
                default_timezone="UTC",
                region="BD",
            )
            (late,) = await new_customers(store, [{"email": "quick@example.com"}])
            assert (await sync.push_once()).pushed == 1
            assert await remote_id(store, late, "hubspot") is not None
        clock.advance(seconds=10)
        assert (await sync.push_once()).pushed == 1
        await sync.close()
        assert await remote_id(store, early, "hubspot") is not None
        assert {c.properties["email"] for c in fake.live()} == {
            "early@example.com",
            "quick@example.com",
        }


async def test_an_email_changed_on_either_side_becomes_the_one_both_sides_use(
    store: Any, fake: FakeHubSpot
) -> None:
    clock = Clock()
    cid, sync, contact = await _linked(store, fake, clock)
    fake.edit(contact.id, {"email": "rahim.new@example.com"})
    await sync.pull_once()
    await sync.push_once()
    assert fake.contacts[contact.id].properties["email"] == "rahim.new@example.com"
    async with store.write() as conn:
        await add_identity(conn, cid, IdentityIn(kind="email", value="r@work.example"), "BD")
    await sync.pull_once()
    await sync.push_once()
    await sync.close()
    assert fake.contacts[contact.id].properties["email"] == "r@work.example"
