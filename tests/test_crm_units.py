"""The CRM sync's pure parts (conflict decisions, field mapping), its config, and one hub
that syncs through its scheduler."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import select

from connectors.hubspot import HUBSPOT
from connectors.salesforce import SALESFORCE
from hub.app import running_hub
from hub.cli.main import build_parser
from hub.config.loader import ConfigError, parse_config
from hub.connector import ConnectorRegistry, CrmSync
from hub.crm.conflicts import FieldHistory, Policy, crm_value_wins
from hub.crm.fields import HubRecord, Unusable, column_values, parse_value, to_properties
from hub.crm.intake import take_in
from hub.store.schema import crm_cursors, crm_event_marks, outgoing_events
from tests.crm_support import new_customers, sqlite_store
from tests.fakes.hubspot import FakeHubSpot
from tests.support import REGISTRY, base_config

T0 = datetime(2026, 1, 1, tzinfo=UTC)
EARLIER, LATER = T0 - timedelta(minutes=1), T0 + timedelta(minutes=1)

# (policy, overwrite agent edits, who set the hub's value, its unpushed change began,
#  the CRM's modified time) -> does the CRM's value win?
CASES = [
    ("crm_wins", False, None, None, EARLIER, True),
    ("crm_wins", False, "inbox", None, LATER, False),  # an agent's value is kept
    ("crm_wins", True, "api", None, EARLIER, True),  # unless configured
    ("hub_wins", False, None, None, LATER, True),  # the hub did not change it: no conflict
    ("hub_wins", False, "import", T0, LATER, False),  # changed since the push: hub keeps it
    ("hub_wins", False, "import", LATER, LATER, True),  # changed before the pending change
    ("most_recent", False, "crm:x", None, LATER, True),
    ("most_recent", False, "crm:x", None, EARLIER, False),
    ("most_recent", False, "crm:x", None, T0, False),  # a tie goes to the hub
    ("most_recent", False, "api", None, LATER, False),
    ("most_recent", True, "inbox", None, LATER, True),
]


@pytest.mark.parametrize(("policy", "overwrite", "source", "unpushed", "crm_at", "wins"), CASES)
def test_conflict_decisions(
    policy: Any,
    overwrite: bool,
    source: str | None,
    unpushed: datetime | None,
    crm_at: datetime,
    wins: bool,
) -> None:
    history = FieldHistory(source=source, edited_at=T0, unpushed_since=unpushed)
    assert crm_value_wins(Policy(policy, overwrite), history, crm_at) is wins


def _sync(fields: list[dict[str, str]]) -> CrmSync:
    return CrmSync.model_validate({"fields": fields})


def test_fields_are_formatted_for_the_crm_by_direction() -> None:
    sync = _sync(
        [
            {"hub": "display_name", "crm": "firstname", "direction": "both"},
            {"hub": "birthday", "crm": "dob", "direction": "hub->crm"},
            {"hub": "tags", "crm": "labels"},
            {"hub": "address.city", "crm": "city"},
            {"hub": "gender", "crm": "sex", "direction": "crm->hub"},
        ]
    )
    record = HubRecord(
        1,
        {
            "display_name": "Rahim",
            "birthday": date(1990, 4, 1),
            "tags": ["vip", "b2b"],
            "address": {"city": "Dhaka"},
            "gender": "m",
        },
        "r@example.com",
        None,
    )
    assert to_properties(record, sync.fields) == {
        "firstname": "Rahim",
        "dob": "1990-04-01",
        "labels": "b2b; vip",
        "city": "Dhaka",
    }


def test_crm_values_are_parsed_or_refused() -> None:
    assert parse_value("birthday", "1990-04-01T00:00:00Z") == date(1990, 4, 1)
    assert parse_value("tags", "vip; b2b,vip") == ["b2b", "vip"]
    assert parse_value("display_name", "  ") is None
    with pytest.raises(Unusable):
        parse_value("anniversary", "next tuesday")
    assert column_values(
        {"address.city": "Sylhet", "address.street": None, "email": "x@y.z", "locale": "bn"},
        {"street": "Road 1", "country": "BD"},
    ) == {"address": {"city": "Sylhet", "country": "BD"}, "locale": "bn"}


def _registry() -> ConnectorRegistry:
    types = {n: t for n in REGISTRY.names() if (t := REGISTRY.get(n)) is not None}
    return ConnectorRegistry({**types, "hubspot": HUBSPOT, "salesforce": SALESFORCE})


def _with_crm(url: str, crm: dict[str, Any]) -> str:
    data = base_config(url)
    data["connectors"].append(crm)
    return yaml.safe_dump(data)


def test_a_bad_sync_block_is_reported_with_file_and_line(tmp_path: Path) -> None:
    crm = {
        "id": "crm",
        "type": "hubspot",
        "token": "pat-x",
        "sync": {"fields": [{"hub": "shoe_size", "crm": "shoe"}], "conflict": "newest"},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(
            _with_crm(f"sqlite+aiosqlite:///{tmp_path}/h.db", crm), "hub.yaml", _registry()
        )
    text = str(caught.value)
    assert "hub.yaml:" in text
    assert "connectors[2].sync.fields[0].hub: unknown hub field 'shoe_size'" in text
    assert "connectors[2].sync.conflict" in text


async def test_a_hub_pushes_customers_made_and_edited_through_the_api(tmp_path: Path) -> None:
    fake = await FakeHubSpot("pat-e2e-token").start()
    crm = {
        "id": "crm",
        "type": "hubspot",
        "token": "pat-e2e-token",
        "base_url": fake.url,
        "sync": {
            "fields": [{"hub": "display_name", "crm": "firstname"}],
            "push_interval_seconds": 0.1,
        },
    }
    text = _with_crm(f"sqlite+aiosqlite:///{tmp_path}/h.db", crm)
    config = parse_config(text, "hub.yaml", _registry())
    hub, task = await running_hub(config, _registry())
    auth = {"Authorization": "Bearer test-token-0123456789"}
    try:
        assert "crm" not in hub.connectors  # a CRM is not started as a channel
        async with aiohttp.ClientSession(f"http://127.0.0.1:{hub.port}", headers=auth) as http:
            body = {
                "display_name": "Rahim",
                "identities": [{"kind": "email", "value": "r@example.com"}],
            }
            async with http.post("/api/v1/customers", json=body) as resp:
                assert resp.status == 201, await resp.text()
                cid = (await resp.json())["id"]
            await _until(lambda: fake.by("email", "r@example.com") is not None)
            async with http.patch(
                f"/api/v1/customers/{cid}", json={"display_name": "Rahim U."}
            ) as resp:
                assert resp.status == 200
            contact = fake.by("email", "r@example.com")
            assert contact is not None
            await _until(lambda: contact.properties.get("firstname") == "Rahim U.")
            assert contact.properties["hub_customer_id"] == str(cid)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await fake.stop()


async def _until(check: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_the_intake_floor_passes_settled_events_only_and_prunes_their_marks(
    tmp_path: Path,
) -> None:
    async with sqlite_store(tmp_path) as store:
        await new_customers(store, [{"email": f"c{i}@example.com"} for i in range(3)])
        async with store.write() as conn:  # event 2 "not yet committed": set aside
            held = (
                await conn.execute(select(outgoing_events).where(outgoing_events.c.id == 2))
            ).one()
            await conn.execute(outgoing_events.delete().where(outgoing_events.c.id == 2))
        now = datetime.now(UTC)
        assert await take_in(store, "crm", "archive", now) == 2
        assert await _floor_and_marks(store) == (0, [1, 3])  # fresh: the floor stays
        async with store.write() as conn:  # ... and now it commits, late
            await conn.execute(outgoing_events.insert().values(**held._mapping))
        assert await take_in(store, "crm", "archive", now) == 1
        assert await take_in(store, "crm", "archive", now + timedelta(minutes=11)) == 0
        assert await _floor_and_marks(store) == (3, [])  # settled: folded into the floor
        await new_customers(store, [{"email": "c3@example.com"}])
        assert await take_in(store, "crm", "archive", now + timedelta(minutes=11)) == 1


async def _floor_and_marks(store: Any) -> tuple[int, list[int]]:
    async with store.read() as conn:
        floor = (await conn.execute(select(crm_cursors.c.event_floor))).scalar_one()
        marks = (await conn.execute(select(crm_event_marks.c.event_id))).scalars().all()
    return floor, sorted(marks)


def test_hub_crm_sync_and_status_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = asyncio.run_coroutine_threadsafe(FakeHubSpot("pat-cli-token").start(), loop).result()
    try:
        crm = {
            "id": "crm",
            "type": "hubspot",
            "token": "pat-cli-token",
            "base_url": fake.url,
            "sync": {"fields": [{"hub": "display_name", "crm": "firstname"}]},
        }
        path = tmp_path / "hub.yaml"
        # sqlite_store() makes tmp_path/hub.db, the database the config names.
        path.write_text(_with_crm(f"sqlite+aiosqlite:///{tmp_path}/hub.db", crm))

        async def seed() -> None:
            async with sqlite_store(tmp_path) as store:
                await new_customers(store, [{"email": "a@example.com", "display_name": "A"}])

        asyncio.run(seed())
        parser = build_parser(_registry())
        for argv in (["crm", "sync", "crm"], ["crm", "status"]):
            args = parser.parse_args([*argv, "--config", str(path)])
            assert args.run(args) == 0
        out = capsys.readouterr().out
        assert "crm: pulled seen=0 changed=0 created=0; pushed=1 refused=0 erased=0" in out
        assert "crm: linked=1 due=0" in out
        assert fake.by("email", "a@example.com") is not None
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


def test_two_connectors_of_one_crm_type_are_refused(tmp_path: Path) -> None:
    crm = {
        "id": "crm",
        "type": "hubspot",
        "token": "pat-x",
        "sync": {"fields": [{"hub": "display_name", "crm": "firstname"}]},
    }
    data = yaml.safe_load(_with_crm(f"sqlite+aiosqlite:///{tmp_path}/h.db", crm))
    data["connectors"].append({**crm, "id": "crm2"})
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump(data), "hub.yaml", _registry())
    assert "connectors[3].type: only one hubspot connector may sync" in str(caught.value)
