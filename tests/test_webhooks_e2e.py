"""The running hub posts its events to a webhook receiver on loopback, each verified with
the Standard Webhooks reference library; admins manage endpoints through /api/v1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from hub.agents.auth import create_api_token
from hub.core.sealed import PREFIX
from hub.store.schema import webhook_endpoints
from tests.inbox_support import inbox_config, post_form
from tests.support import SmtpSink, hub_running, hub_url, make_config
from tests.webhook_support import Receiver, endpoint_config, wait_for_types

AUTH = {"Authorization": "Bearer test-token-0123456789"}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


async def test_the_hub_posts_each_change_signed(
    storage_url: str, smtp: SmtpSink, receiver: Receiver
) -> None:
    config = make_config(
        inbox_config(storage_url, smtp.port, webhooks=[endpoint_config(receiver.url)])
    )
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        ref = await post_form(http, hub, name="Ann", email="ann@example.com", message="Hello")
        await smtp.wait_for(1)  # the acknowledgement: message.sent
        got = await wait_for_types(
            receiver,
            ["customer.created", "ticket.created", "message.received", "message.sent"],
        )
        ticket_id = int(ref.removeprefix("T-"))
        async with http.patch(
            hub_url(hub, f"/api/v1/tickets/{ticket_id}"), json={"status": "solved"}
        ) as resp:
            assert resp.status == 200
        customer_id = got[0]["data"]["customer_id"]
        async with http.patch(
            hub_url(hub, f"/api/v1/customers/{customer_id}"), json={"display_name": "Ann B"}
        ) as resp:
            assert resp.status == 200, await resp.text()
        got = await wait_for_types(
            receiver,
            [
                "customer.created",
                "ticket.created",
                "message.received",
                "message.sent",
                "ticket.status_changed",
                "customer.updated",
            ],
        )
    assert all(d.error is None for d in receiver.received)
    by_type = {p["type"]: p["data"] for p in got}
    # One customer's events, in the order they happened.
    assert [p["type"] for p in got][:3] == [
        "customer.created",
        "ticket.created",
        "message.received",
    ]
    assert by_type["ticket.created"]["ref"] == ref
    assert by_type["ticket.created"]["channel"] == "webform"
    assert by_type["message.received"]["ticket_id"] == ticket_id
    assert "text" not in by_type["message.received"]  # the text stays in the hub
    assert by_type["message.sent"]["kind"] == "acknowledgement"
    assert by_type["ticket.status_changed"] == {
        "ticket_id": ticket_id,
        "ref": ref,
        "customer_id": customer_id,
        "previous_status": "new",
        "status": "solved",
    }
    assert by_type["customer.updated"]["fields"] == ["display_name"]
    assert len({d.headers["webhook-id"] for d in receiver.received}) == len(receiver.received)


async def test_admins_manage_endpoints_through_the_api(
    tmp_path: Any, smtp: SmtpSink, receiver: Receiver
) -> None:
    other = await Receiver(secret="").start()
    config = make_config(
        inbox_config(
            f"sqlite+aiosqlite:///{tmp_path}/h.db",
            smtp.port,
            webhooks=[endpoint_config(receiver.url, events=["ticket.created"])],
        )
    )
    try:
        async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:

            async def call(method: str, path: str, **kw: Any) -> tuple[int, Any]:
                url = hub_url(hub, "/api/v1" + path)
                async with http.request(method, url, **kw) as resp:
                    return resp.status, (await resp.json() if resp.status != 204 else None)

            async with hub.store.write() as conn:
                sam = {"Authorization": f"Bearer {await create_api_token(conn, 'sam', 't')}"}
            new = {"id": "crm", "url": other.url, "events": ["*"], "allow_private": True}
            assert (await call("GET", "/webhooks", headers=sam))[0] == 403
            assert (await call("POST", "/webhooks", json=new, headers=sam))[0] == 403

            status, made = await call("POST", "/webhooks", json=new)
            assert status == 201 and made["secret"].startswith("whsec_")
            other.secret = made["secret"]
            status, shown = await call("GET", "/webhooks/crm")
            assert status == 200 and "secret" not in shown
            async with hub.store.read() as conn:
                stored = (
                    await conn.execute(
                        select(webhook_endpoints.c.secret).where(webhook_endpoints.c.id == "crm")
                    )
                ).scalar_one()
            assert stored.startswith(PREFIX) and made["secret"][6:] not in stored  # sealed
            assert (await call("POST", "/webhooks", json=new))[0] == 409
            private = {**new, "id": "lan", "allow_private": False}
            status, refused = await call("POST", "/webhooks", json=private)
            assert status == 422 and "loopback" in refused["error"]
            assert (await call("DELETE", "/webhooks/bridge"))[0] == 409  # the config's
            status, listed = await call("GET", "/webhooks")
            assert [w["id"] for w in listed["webhooks"]] == ["bridge", "crm"]

            ref = await post_form(http, hub, email="bob@example.com", message="Where is it?")
            await wait_for_types(other, ["customer.created", "ticket.created"])
            await wait_for_types(receiver, ["ticket.created"])
            assert [p["type"] for p in receiver.verified()] == ["ticket.created"]  # its list

            status, off = await call("POST", "/webhooks/crm/disable", json={"reason": "upgrade"})
            assert status == 200 and off["status"] == "disabled"
            before = len(other.received)
            await post_form(http, hub, email="cy@example.com", message="Hi")
            await wait_for_types(receiver, ["ticket.created", "ticket.created"])
            assert len(other.received) == before  # held while disabled
            assert (await call("POST", "/webhooks/crm/enable"))[0] == 200
            await wait_for_types(other, ["ticket.created", "ticket.created"])

            status, log = await call("GET", "/webhooks/bridge/deliveries")
            assert status == 200
            first = log["deliveries"][-1]
            assert first["status"] == "delivered" and first["log"][0]["status_code"] == 200
            assert first["log"][0]["attempted_at"]
            status, queued = await call(
                "POST", f"/webhooks/bridge/deliveries/{first['id']}/redeliver"
            )
            assert status == 202 and queued["status"] == "pending"
            await wait_for_types(receiver, ["ticket.created"] * 3)
            ids = [d.headers["webhook-id"] for d in receiver.received]
            assert ids[-1] == first["webhook_id"] == ids[0]  # the same event, the same id
            assert (await call("GET", "/webhooks/bridge/deliveries?status=bogus"))[0] == 400
            assert (await call("DELETE", "/webhooks/crm"))[0] == 204
            assert (await call("GET", "/webhooks/crm"))[0] == 404
            assert ref.startswith("T-")
    finally:
        await other.stop()
    assert all(d.error is None for d in receiver.received + other.received)
    assert Webhook(made["secret"]).verify(other.received[0].body, other.received[0].headers)


async def test_a_410_disables_the_endpoint_and_tells_the_operators_on_slack(
    tmp_path: Path, smtp: SmtpSink, receiver: Receiver
) -> None:
    from tests.fakes.chat_webhooks import FakeSlackWebhook
    from tests.test_alerts import with_alerts

    slack = await FakeSlackWebhook().start()
    receiver.answers = [(410, {})]
    data = inbox_config(
        f"sqlite+aiosqlite:///{tmp_path}/h.db",
        smtp.port,
        webhooks=[endpoint_config(receiver.url, events=["ticket.created"])],
    )
    config = make_config(with_alerts(data, ["ops-slack"], **{"ops-slack": slack.url}))
    try:
        async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
            await post_form(http, hub, email="gone@example.com", message="Hello")
            await slack.wait_for(lambda: any("webhook" in t for t in slack.texts()))
            async with http.get(hub_url(hub, "/api/v1/webhooks/bridge")) as resp:
                shown = await resp.json()
            await post_form(http, hub, email="later@example.com", message="Hello again")
            await asyncio.sleep(1.5)  # a round or two: nothing goes to a disabled endpoint
    finally:
        await slack.stop()
    [text] = [t for t in slack.texts() if "webhook" in t]
    assert "webhook endpoint bridge disabled" in text and "410 Gone" in text
    assert shown["status"] == "disabled" and "410" in shown["disabled_reason"]
    assert len(receiver.received) == 1
