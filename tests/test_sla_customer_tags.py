"""A customer's tags changed by the API or in the inbox: their open tickets are put under
the SLA policy that matches now (policies may match on customer_tags), from each clock's
original start, and the change is on each ticket's SLA timeline; a solved ticket is left
as it was."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import select

from hub.store.schema import sla_events
from tests.fakes.chat_webhooks import FakeSlackWebhook
from tests.fakes.hubspot import FakeHubSpot
from tests.sla_support import AUTH, api, post_form, sim_clock, sla_config, targets
from tests.support import hub_running, make_config

CRM_TOKEN = "pat-na1-test-token-0123"
VIP = {
    "name": "vip-care",
    "match": {"customer_tags": ["vip"]},
    "targets": {"normal": {"first_response": "10m", "resolution": "1h"}},
}


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackWebhook]:
    fake = await FakeSlackWebhook().start()
    yield fake
    await fake.stop()


async def _hub_command(*args: str) -> str:
    """The real `hub` command in its own process, beside the running hub: its output."""
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "hub"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def _timeline(hub: Any, ticket: int) -> list[str]:
    async with hub.store.read() as conn:
        rows = await conn.execute(
            select(sla_events.c.detail)
            .where(sla_events.c.ticket_id == ticket, sla_events.c.what == "reevaluated")
            .order_by(sla_events.c.id)
        )
        return [r.detail for r in rows]


def _vip_config(
    tmp_path: Path, slack: FakeSlackWebhook, *connectors: Any
) -> tuple[dict[str, Any], Path]:
    """The SLA config with the vip policy first (and `connectors`), and the file it is
    written to for a command run in its own process."""
    data = sla_config(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", slack.url)
    data["sla"]["policies"].insert(0, VIP)
    data["connectors"].extend(connectors)
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return data, path


@contextlib.asynccontextmanager
async def _jo_and_ann(data: dict[str, Any]) -> AsyncIterator[tuple[Any, int, int]]:
    """A running hub with an open ticket of Jo's and one of Ann's, both under the
    standard policy: (hub, Jo's ticket, Ann's)."""
    async with (
        hub_running(make_config(data)) as hub,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        ticket = await post_form(http, hub, "jo@example.com", "Where is my order?")
        other = await post_form(http, hub, "ann@example.com", "And mine?")
        assert (await targets(hub, ticket))["first_response", 1].policy == "standard"
        yield hub, ticket, other


async def test_customer_tags_put_open_tickets_under_the_policy_that_matches_now(
    tmp_path: Path, slack: FakeSlackWebhook
) -> None:
    data = sla_config(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", slack.url)
    data["sla"]["policies"].insert(0, VIP)
    async with (
        hub_running(make_config(data)) as hub,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        clock = sim_clock(hub)
        t0 = clock.now
        done = await post_form(http, hub, "jo@example.com", "An old question")
        await api(http, hub, "PATCH", f"/tickets/{done}", {"status": "solved"})
        clock.at(t0, minutes=1)
        ticket = await post_form(http, hub, "jo@example.com", "Where is my order?")
        assert ticket != done
        customer = (await api(http, hub, "GET", f"/tickets/{ticket}", None))["customer_id"]
        before = await targets(hub, ticket)
        assert before["first_response", 1].policy == "standard"

        clock.at(t0, minutes=5)
        await api(http, hub, "PATCH", f"/customers/{customer}", {"tags": ["vip"]})
        vip = await targets(hub, ticket)
        assert vip["first_response", 1].policy == "vip-care"
        opened = before["first_response", 1].started_at
        assert vip["first_response", 1].due_at == opened + timedelta(minutes=10)
        assert vip["resolution", 1].due_at == opened + timedelta(hours=1)

        await api(http, hub, "PATCH", f"/customers/{customer}", {"tags": ["vip"]})  # no change
        await api(http, hub, "PATCH", f"/customers/{customer}", {"tags": []})
        back = await targets(hub, ticket)
        timeline = await _timeline(hub, ticket)
        untouched = await _timeline(hub, done)
    assert back["first_response", 1].policy == "standard"
    assert back["first_response", 1].due_at == opened + timedelta(minutes=30)
    assert len(timeline) == 2
    assert "customer tags [] -> ['vip']" in timeline[0] and "policy vip-care" in timeline[0]
    assert "customer tags ['vip'] -> []" in timeline[1] and "policy standard" in timeline[1]
    assert untouched == []


async def test_a_customer_import_changing_tags_reevaluates_open_tickets(
    tmp_path: Path, slack: FakeSlackWebhook
) -> None:
    """`hub customers import` (the real command, its own process) tags a customer vip:
    their open ticket goes under the vip policy in the import's transaction."""
    data, config_path = _vip_config(tmp_path, slack)
    csv_path = tmp_path / "customers.csv"
    csv_path.write_text("emails,name,tags\njo@example.com,Jo,vip\nann@example.com,Ann,\n")
    async with _jo_and_ann(data) as (hub, ticket, other):
        out = await _hub_command(
            "customers", "import", str(csv_path), "--config", str(config_path), "--no-progress"
        )
        assert "customers: 0 created, 2 updated, 0 unchanged" in out
        vip = await targets(hub, ticket)
        timeline = await _timeline(hub, ticket)
        untouched = await _timeline(hub, other)
    assert vip["first_response", 1].policy == "vip-care"
    assert len(timeline) == 1 and "customer tags [] -> ['vip']" in timeline[0]
    assert untouched == []  # Ann's name changed, not her tags


async def test_a_crm_pull_changing_tags_reevaluates_open_tickets(
    tmp_path: Path, slack: FakeSlackWebhook
) -> None:
    """`hub crm sync` (the real command, its own process) pulls a HubSpot contact tagged
    vip in the CRM: the customer's open ticket goes under the vip policy in the pull's
    transaction, with the change on its SLA timeline."""
    hubspot = await FakeHubSpot(CRM_TOKEN).start()
    data, config_path = _vip_config(
        tmp_path,
        slack,
        {
            "id": "hubspot",
            "type": "hubspot",
            "token": CRM_TOKEN,
            "base_url": hubspot.url,
            "sync": {
                "fields": [
                    {"hub": "email", "crm": "email"},
                    {"hub": "tags", "crm": "hub_tags", "direction": "crm->hub"},
                ],
                # The running hub's own rounds stay out of the way: the command pulls.
                "push_interval_seconds": 86400,
                "pull_interval_seconds": 86400,
            },
        },
    )
    try:
        async with _jo_and_ann(data) as (hub, ticket, other):
            hubspot.add({"email": "jo@example.com", "hub_tags": "vip"})
            hubspot.add({"email": "ann@example.com", "hub_tags": ""})
            out = await _hub_command("crm", "sync", "hubspot", "--config", str(config_path))
            assert "pulled seen=2 changed=1 created=0" in out, out
            vip = await targets(hub, ticket)
            timeline = await _timeline(hub, ticket)
            untouched = await _timeline(hub, other)
    finally:
        await hubspot.stop()
    assert vip["first_response", 1].policy == "vip-care"
    assert len(timeline) == 1 and "customer tags [] -> ['vip']" in timeline[0]
    assert untouched == []  # Ann's tags stayed empty
