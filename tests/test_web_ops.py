"""The API behind bearer tokens, /healthz, /metrics, and connector supervision."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Literal

import aiohttp
import yaml
from aiohttp import web

from hub.app import Hub, running_hub
from hub.config.loader import parse_config
from hub.connector import (
    ConnectorAuthError,
    ConnectorConfig,
    ConnectorNotReady,
    ConnectorRegistry,
    ConnectorType,
    HubContext,
)
from hub.messages import OutboundMessage
from tests.support import REGISTRY, SmtpSink, base_config, hub_running, hub_url, make_config

TOKEN = "test-token-0123456789"


async def test_api_requires_a_valid_bearer_token(storage_url: str, smtp: SmtpSink) -> None:
    config = make_config(base_config(storage_url, smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        async with http.post(
            hub_url(hub, "/channels/contact/"),
            json={
                "name": "Ann",
                "email": "ann@example.com",
                "phone": "01712-345678",
                "message": "Where is my invoice?",
            },
        ) as resp:
            ref = (await resp.json())["ticket"]
        for path in ("/api/v1/tickets", "/api/v1/tickets/1", "/api/v1/customers/1"):
            for headers in (
                {},
                {"Authorization": "Bearer wrong-token-000000000"},
                {"Authorization": f"Basic {TOKEN}"},
            ):
                async with http.get(hub_url(hub, path), headers=headers) as resp:
                    assert resp.status == 401, (path, headers)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with http.get(hub_url(hub, "/api/v1/tickets?status=new"), headers=auth) as resp:
            listed = (await resp.json())["tickets"]
        assert [t["ref"] for t in listed] == [ref]
        assert listed[0]["team_id"] == "billing"
        ticket_id = listed[0]["id"]
        async with http.get(hub_url(hub, f"/api/v1/tickets/{ticket_id}"), headers=auth) as resp:
            ticket = await resp.json()
        assert [m["direction"] for m in ticket["messages"]] == ["in", "out"]
        assert ticket["messages"][0]["body_text"] == "Where is my invoice?"
        async with http.get(
            hub_url(hub, f"/api/v1/customers/{ticket['customer_id']}"), headers=auth
        ) as resp:
            customer = await resp.json()
        assert {(i["kind"], i["value"]) for i in customer["identities"]} == {
            ("email", "ann@example.com"),
            ("phone", "+8801712345678"),
        }
        assert customer["display_name"] == "Ann"
        for bad in (
            "/api/v1/tickets?limit=0",
            "/api/v1/tickets?limit=x",
            "/api/v1/tickets?status=bogus",
        ):
            async with http.get(hub_url(hub, bad), headers=auth) as resp:
                assert resp.status == 400, bad
        for missing in ("/api/v1/tickets/999", "/api/v1/customers/999", "/api/v1/tickets/abc"):
            async with http.get(hub_url(hub, missing), headers=auth) as resp:
                assert resp.status == 404, missing


async def test_metrics_count_messages_and_outbox(tmp_path: Any, smtp: SmtpSink) -> None:
    config = make_config(base_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        async with http.post(
            hub_url(hub, "/channels/contact/"), json={"email": "m@example.com", "message": "hello"}
        ) as resp:
            assert resp.status == 201
        await smtp.wait_for(1)
        # The mark after a send commits right after the SMTP server answers.
        for _ in range(100):
            async with http.get(hub_url(hub, "/metrics")) as resp:
                text = await resp.text()
            if 'hub_outbox_depth{status="sent"} 1.0' in text:
                break
            await asyncio.sleep(0.05)
    assert 'hub_messages_in_total{channel="webform"} 1.0' in text
    assert 'hub_replies_sent_total{connector="mail"} 1.0' in text
    assert 'hub_outbox_depth{status="sent"} 1.0' in text
    assert 'hub_outbox_depth{status="pending"} 0.0' in text


# A channel that is down for its first starts, and one whose credentials are refused:
# fakes of remote channels, not of the hub's code.
class _FakeConfig(ConnectorConfig):
    type: Literal["flaky", "badauth"]
    failures: int = 0


class _FlakyConnector:
    starts: dict[str, int] = {}  # noqa: RUF012 - shared across instances on purpose

    def __init__(self, config: _FakeConfig, ctx: HubContext) -> None:
        self.config = config

    async def start(self) -> None:
        n = self.starts[self.config.id] = self.starts.get(self.config.id, 0) + 1
        if self.config.type == "badauth":
            raise ConnectorAuthError("invalid token")
        if n <= self.config.failures:
            raise ConnectorNotReady("server unreachable")

    async def stop(self) -> None:
        pass

    async def send(self, msg: OutboundMessage) -> str:
        return "x"

    def web_app(self) -> web.Application | None:
        return None


@contextlib.asynccontextmanager
async def _hub_with_fakes(tmp_path: Any, smtp: SmtpSink) -> AsyncIterator[Hub]:
    types = {n: REGISTRY.get(n) for n in REGISTRY.names()}
    for name in ("flaky", "badauth"):
        types[name] = ConnectorType(name, _FakeConfig, _FlakyConnector)
    registry = ConnectorRegistry(types)  # type: ignore[arg-type]
    data = base_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port)
    data["connectors"] += [
        {"id": "flaky", "type": "flaky", "failures": 1},
        {"id": "locked", "type": "badauth"},
    ]
    config = parse_config(yaml.safe_dump(data), "t.yaml", registry)
    hub, task = await running_hub(config, registry)
    for sup in hub.supervisors.values():
        sup.base_delay = 0.05
    try:
        yield hub
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_one_failing_connector_never_stops_the_others(tmp_path: Any, smtp: SmtpSink) -> None:
    _FlakyConnector.starts.clear()
    async with _hub_with_fakes(tmp_path, smtp) as hub, aiohttp.ClientSession() as http:
        health: dict[str, Any] = {}
        for _ in range(100):
            async with http.get(hub_url(hub, "/healthz")) as resp:
                health = await resp.json()
            if health["connectors"]["flaky"]["state"] == "running":
                break
            await asyncio.sleep(0.05)
        assert health["connectors"]["flaky"]["state"] == "running"
        assert _FlakyConnector.starts["flaky"] == 2  # refused once, retried, running
        assert health["connectors"]["locked"]["state"] == "disabled"
        assert "authentication failed" in health["connectors"]["locked"]["error"]
        assert health["status"] == "degraded" and health["storage"] == "ok"
        # The form and the mail still work beside the broken connector.
        async with http.post(
            hub_url(hub, "/channels/contact/"), json={"email": "z@example.com", "message": "hi"}
        ) as resp:
            assert resp.status == 201
        await smtp.wait_for(1)
        async with http.get(hub_url(hub, "/metrics")) as resp:
            text = await resp.text()
        assert 'hub_connector_up{connector="locked"} 0.0' in text
        assert 'hub_connector_up{connector="contact"} 1.0' in text
