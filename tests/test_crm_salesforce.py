"""CRM sync with Salesforce: the hub's real client against a loopback fake of its REST API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.salesforce import SALESFORCE, SalesforceConfig
from tests.crm_support import (
    Clock,
    agent_edit,
    customer,
    erase,
    links,
    many_customers,
    new_customers,
    remote_id,
    sqlite_store,
    syncer,
)
from tests.fakes.salesforce import FakeSalesforce, Fault

CLIENT = ("3MVG9-hub-test", "client-secret-0123", "5Aep-refresh-token-0123")
EXT = "Hub_Customer_Id__c"
FIELDS = [
    {"hub": "display_name", "crm": "LastName"},
    {"hub": "email", "crm": "Email"},
    {"hub": "phone", "crm": "Phone"},
    {"hub": "address.city", "crm": "MailingCity"},
    {"hub": "birthday", "crm": "Birthdate"},
]


def config(fake: FakeSalesforce, refresh_token: str = CLIENT[2], **sync: Any) -> SalesforceConfig:
    return SalesforceConfig.model_validate(
        {
            "id": "salesforce",
            "type": "salesforce",
            "instance_url": fake.url,
            "login_url": fake.url,
            "client_id": CLIENT[0],
            "client_secret": CLIENT[1],
            "refresh_token": refresh_token,
            "sync": {"fields": FIELDS, **sync},
        }
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeSalesforce]:
    server = await FakeSalesforce(*CLIENT).start()
    yield server
    await server.stop()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Any]:
    async with sqlite_store(tmp_path) as s:
        yield s


def writes(fake: FakeSalesforce) -> list[tuple[str, str, Any]]:
    return [r for r in fake.requests if r[0] == "PATCH"]


async def test_five_thousand_customers_pushed_in_collections_within_the_api_budget(
    store: Any, fake: FakeSalesforce
) -> None:
    fake.api_max = 100  # the org's daily budget; the hub may use 80% of it
    people = [
        {"email": f"person{i}@example.com", "display_name": f"Person {i}"} for i in range(5000)
    ]
    ids = await many_customers(store, people)
    sync = syncer(store, SALESFORCE, config(fake, batch_size=200), Clock())
    report = await sync.push_once()
    await sync.close()

    assert report.pushed == 5000 and report.refused == 0
    assert len(fake.contacts) == 5000
    upserts = [w for w in writes(fake) if w[1].endswith(f"/composite/sobjects/Contact/{EXT}")]
    assert len(upserts) == 25 and all(len(w[2]["records"]) == 200 for w in upserts)
    assert fake.api_used <= 80
    (last,) = fake.by(EXT, str(ids[-1]))
    assert last.fields["LastName"] == "Person 4999"
    assert last.fields["Email"] == "person4999@example.com"
    assert await remote_id(store, ids[-1], "salesforce") == last.id


async def test_the_client_stops_at_its_share_of_the_daily_limit_before_salesforce_refuses(
    store: Any, fake: FakeSalesforce
) -> None:
    fake.api_max, fake.api_used = 100, 79
    await many_customers(store, [{"email": f"c{i}@example.com"} for i in range(250)])
    clock = Clock()
    sync = syncer(store, SALESFORCE, config(fake, batch_size=200), clock)
    report = await sync.push_once()
    # One lookup took the org to 80 of 100: the client holds off instead of going on.
    assert report.pushed == 0 and fake.api_used == 80
    assert report.paused_until is not None
    assert report.paused_until >= clock.now() + timedelta(seconds=899)
    assert all(link.due_at is not None for link in await links(store, "salesforce"))
    await sync.close()


async def test_existing_contacts_are_found_by_email_then_phone_not_duplicated(
    store: Any, fake: FakeSalesforce
) -> None:
    by_email = fake.add({"LastName": "R.", "Email": "rahim@example.com"})
    by_phone = fake.add({"LastName": "K.", "Phone": "+8801712345678"})
    rahim, karim, nadia = await new_customers(
        store,
        [
            {"email": "Rahim@Example.com", "display_name": "Rahim"},
            {"phone": "01712345678", "display_name": "Karim"},
            {"phone": "01812345678"},
        ],
    )
    sync = syncer(store, SALESFORCE, config(fake), Clock())
    report = await sync.push_once()
    await sync.close()
    assert report.pushed == 3 and len(fake.contacts) == 3
    assert await remote_id(store, rahim, "salesforce") == by_email.id
    assert await remote_id(store, karim, "salesforce") == by_phone.id
    assert by_email.fields == {"LastName": "Rahim", "Email": "rahim@example.com", EXT: str(rahim)}
    (made,) = fake.by(EXT, str(nadia))
    assert made.fields["LastName"] == "(unknown)"  # Salesforce requires one
    assert made.fields["Phone"] == "+8801812345678"


async def test_an_expired_token_is_refreshed_and_the_call_repeated(
    store: Any, fake: FakeSalesforce
) -> None:
    (a,) = await new_customers(store, [{"email": "a@example.com", "display_name": "A"}])
    clock = Clock()
    sync = syncer(store, SALESFORCE, config(fake), clock)
    await sync.push_once()
    fake.expire_tokens()
    await agent_edit(store, a, display_name="Anika")
    report = await sync.push_once()
    await sync.close()
    assert report.pushed == 1 and fake.token_requests == 2
    (contact,) = fake.contacts.values()
    assert contact.fields["LastName"] == "Anika"


async def test_a_refused_refresh_token_leaves_the_change_waiting(
    store: Any, fake: FakeSalesforce
) -> None:
    await new_customers(store, [{"email": "a@example.com"}])
    sync = syncer(store, SALESFORCE, config(fake, refresh_token="revoked"), Clock())
    report = await sync.push_once()
    await sync.close()
    assert report.pushed == 0 and fake.contacts == {}
    (link,) = await links(store, "salesforce")
    assert "refused the refresh token" in link.last_error and link.due_at is not None


async def test_request_limit_exceeded_waits_the_configured_time(
    store: Any, fake: FakeSalesforce
) -> None:
    fake.faults.append(
        Fault(
            403,
            [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}],
        )
    )
    (a,) = await new_customers(store, [{"email": "a@example.com"}])
    clock = Clock()
    sync = syncer(store, SALESFORCE, config(fake), clock)
    report = await sync.push_once()
    assert report.paused_until == clock.now() + timedelta(seconds=900)
    clock.advance(seconds=901)
    assert (await sync.push_once()).pushed == 1
    await sync.close()
    assert await remote_id(store, a, "salesforce") is not None


async def test_an_external_id_held_by_several_contacts_is_refused_not_guessed(
    store: Any, fake: FakeSalesforce
) -> None:
    clean, doubled = await new_customers(
        store, [{"email": "clean@example.com"}, {"email": "doubled@example.com"}]
    )
    fake.add({"LastName": "Copy 1", EXT: str(doubled)})
    fake.add({"LastName": "Copy 2", EXT: str(doubled)})
    clock = Clock()
    sync = syncer(store, SALESFORCE, config(fake), clock)
    # In a collection: that record fails, the other lands.
    report = await sync.push_once()
    assert (report.pushed, report.refused) == (1, 1)
    assert await remote_id(store, clean, "salesforce") is not None
    # Alone, the single-record upsert answers 300 Multiple Choices.
    clock.advance(minutes=20)
    report = await sync.push_once()
    await sync.close()
    assert report.refused == 1
    assert any(w[1].endswith(f"/sobjects/Contact/{EXT}/{doubled}") for w in writes(fake))
    (link,) = [x for x in await links(store, "salesforce") if x.customer_id == doubled]
    assert link.last_error.startswith("MULTIPLE_CHOICES") and link.due_at is not None
    assert len(fake.by(EXT, str(doubled))) == 2  # nothing overwritten by a guess


async def test_a_salesforce_outage_of_several_minutes_loses_nothing(
    store: Any, fake: FakeSalesforce
) -> None:
    first = await new_customers(store, [{"email": f"c{i}@example.com"} for i in range(30)])
    clock = Clock()
    sync = syncer(store, SALESFORCE, config(fake, batch_size=10), clock)
    fake.down = True
    for attempt in range(20):  # ten minutes, a round every 30 s
        await sync.push_once()
        if attempt == 3:
            await agent_edit(store, first[0], display_name="Changed during the outage")
        clock.advance(seconds=30)
    assert fake.contacts == {}
    fake.down = False
    clock.advance(minutes=16)
    report = await sync.push_once()
    await sync.close()
    assert report.pushed == 30 and len(fake.contacts) == 30
    (c0,) = fake.by("Email", "c0@example.com")
    assert c0.fields["LastName"] == "Changed during the outage"


async def _linked(
    store: Any, fake: FakeSalesforce, clock: Clock, **sync: Any
) -> tuple[int, Any, Any]:
    (cid,) = await new_customers(
        store,
        [{"email": "rahim@example.com", "display_name": "Rahim", "address": {"city": "Dhaka"}}],
    )
    s = syncer(store, SALESFORCE, config(fake, **sync), clock)
    assert (await s.push_once()).pushed == 1
    (contact,) = fake.by("Email", "rahim@example.com")
    return cid, s, contact


async def test_a_change_made_in_salesforce_is_pulled_into_the_hub(
    store: Any, fake: FakeSalesforce
) -> None:
    fake.page_size = 1  # every record on its own page: nextRecordsUrl is followed
    clock = Clock()
    cid, sync, contact = await _linked(store, fake, clock)
    fake.edit(contact.id, {"LastName": "Uddin", "MailingCity": "Sylhet", "Birthdate": "1990-04-01"})
    fake.add({"LastName": "Nadia", "Email": "nadia@example.com"})
    report = await sync.pull_once()
    assert (report.seen, report.changed, report.created) == (2, 1, 1)
    row = await customer(store, cid)
    assert (row.display_name, row.address, str(row.birthday)) == (
        "Uddin",
        {"city": "Sylhet"},
        "1990-04-01",
    )
    before = len(writes(fake))
    await sync.push_once()
    assert len(writes(fake)) == before  # not sent back
    assert (await sync.pull_once()).changed == 0
    await sync.close()


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
    store: Any, fake: FakeSalesforce, policy: str, crm_later: bool, winner: str
) -> None:
    clock = Clock()
    cid, sync, contact = await _linked(
        store, fake, clock, conflict=policy, overwrite_agent_edits=True
    )
    await agent_edit(store, cid, display_name="Hub value")
    hub_edit = (await customer(store, cid)).updated_at
    crm_time = hub_edit + (timedelta(minutes=5) if crm_later else -timedelta(minutes=5))
    fake.edit(contact.id, {"LastName": "CRM value"}, at=crm_time)
    await sync.pull_once()
    await sync.push_once()
    await sync.close()
    expected = "Hub value" if winner == "hub" else "CRM value"
    assert (await customer(store, cid)).display_name == expected
    assert fake.contacts[contact.id].fields["LastName"] == expected


async def test_an_agents_edit_is_kept_unless_configured(store: Any, fake: FakeSalesforce) -> None:
    clock = Clock()
    cid, sync, contact = await _linked(store, fake, clock, conflict="crm_wins")
    await agent_edit(store, cid, display_name="Typed by an agent")
    await sync.push_once()
    fake.edit(contact.id, {"LastName": "From a flow", "MailingCity": "Khulna"})
    await sync.pull_once()
    await sync.close()
    row = await customer(store, cid)
    assert row.display_name == "Typed by an agent" and row.address == {"city": "Khulna"}


@pytest.mark.parametrize("action", ["archive", "delete"])
async def test_an_erased_customer_is_archived_or_deleted_in_salesforce(
    store: Any, fake: FakeSalesforce, action: str, tmp_path: Path
) -> None:
    clock = Clock()
    cid, sync, contact = await _linked(store, fake, clock, erasure=action)
    await erase(store, cid, tmp_path)
    assert (await sync.push_once()).erased == 1
    if action == "archive":
        assert fake.contacts[contact.id].fields["Hub_Archived__c"] is True
    else:
        assert contact.id not in fake.contacts
    assert await links(store, "salesforce") == []
    # The customer and its identities are gone: a pull must not bring it back.
    assert (await sync.pull_once()).created == 0
    await sync.close()
