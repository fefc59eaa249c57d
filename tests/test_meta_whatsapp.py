"""WhatsApp through the real hub and the loopback Graph API fake: the webhook handshake,
signatures, the 24-hour window with its template path, and an expired token."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from hub.store.schema import attachments, customers, identities, messages, tickets
from tests.inbox_support import login
from tests.meta_harness import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TOKEN,
    VERIFY,
    fake_graph,
    meta_hub,
    seed_customers,
    wa_text,
)
from tests.snapshot import settled_snapshot
from tests.support import hub_url

API = {"Authorization": "Bearer test-token-0123456789"}


async def test_webhook_handshake_answers_the_challenge_only_with_the_verify_token(
    tmp_path: Path,
) -> None:
    # Storage plays no part: SQLite only.
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    async with fake_graph() as api, meta_hub(url, api) as rig, aiohttp.ClientSession() as s:
        ok = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
        async with s.get(rig.webhook, params=ok) as r:
            assert (r.status, await r.text()) == (200, "1158201444")
        async with s.get(rig.webhook, params={**ok, "hub.verify_token": "wrong"}) as r:
            assert r.status == 403
        async with s.get(rig.webhook, params={**ok, "hub.mode": "unsubscribe"}) as r:
            assert r.status == 403
        # Only Meta's numeric challenge is echoed, never markup someone slipped in.
        async with s.get(rig.webhook, params={**ok, "hub.challenge": "<script>"}) as r:
            assert r.status == 403


async def test_customer_text_opens_a_ticket_and_the_reply_goes_out_through_graph(
    storage_url: str,
) -> None:
    async with fake_graph() as api, meta_hub(storage_url, api) as rig:
        # The customer wrote through the web form before, giving their phone in local form.
        async with aiohttp.ClientSession() as http:
            form = {
                "name": "Rahim Uddin",
                "email": "rahim@example.com",
                "phone": "01712-345678",
                "message": "Hi",
            }
            async with http.post(hub_url(rig.hub, "/channels/contact/"), json=form) as r:
                assert r.status in (200, 201), await r.text()
        (earlier,) = await rig.inbound()
        status, _ = await rig.post(wa_text("wamid.A1", "Where is my order?"))
        assert status == 200
        msg = (await rig.inbound())[1]
        # The wa_id is the phone number in E.164: the same customer meets their history.
        assert msg.customer_id == earlier.customer_id
        assert (msg.channel, msg.external_id, msg.body_text) == (
            "whatsapp",
            "wamid.A1",
            "Where is my order?",
        )
        async with rig.hub.store.read() as conn:
            ids = {
                (r.kind, r.value)
                for r in await conn.execute(
                    select(identities.c.kind, identities.c.value).where(
                        identities.c.customer_id == msg.customer_id
                    )
                )
            }
            name = (
                await conn.execute(
                    select(customers.c.display_name).where(customers.c.id == msg.customer_id)
                )
            ).scalar_one()
        assert ids == {
            ("email", "rahim@example.com"),
            ("whatsapp", "8801712345678"),
            ("phone", "+8801712345678"),
        }
        assert name == "Rahim Uddin"

        async with aiohttp.ClientSession(headers=API) as s:
            url = hub_url(rig.hub, f"/api/v1/tickets/{msg.ticket_id}/reply")
            async with s.post(url, json={"text": "It ships today."}) as r:
                assert r.status == 202, await r.text()
                outbox_id = (await r.json())["outbox_id"]
        row = await rig.wait_outbox(outbox_id, "sent")
        assert row.remote_id.startswith("wamid.")
        sent = [c.json for c in api.sent() if c.json and c.json.get("type") == "text"]
        assert {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "8801712345678",
            "type": "text",
            "text": {"body": "It ships today.", "preview_url": False},
        } in sent
        assert all(c.path == f"/v21.0/{PHONE_NUMBER_ID}/messages" for c in api.sent())

        # Meta reports on our message: the furthest status wins, and a redelivery is one event.
        for status_name in ("delivered", "read", "delivered"):
            body = _status_body(row.remote_id, status_name)
            assert (await rig.post(body))[0] == 200
        events = await rig.events()
        assert sorted(e.value for e in events) == ["delivered", "read"]
        async with rig.hub.store.read() as conn:
            out = (
                await conn.execute(select(messages).where(messages.c.id == row.message_id))
            ).one()
        assert out.delivery_status == "read"
        async with aiohttp.ClientSession(headers=API) as s:
            async with s.get(hub_url(rig.hub, f"/api/v1/tickets/{msg.ticket_id}")) as r:
                shown = (await r.json())["messages"]
        assert [m["delivery_status"] for m in shown if m["id"] == row.message_id] == ["read"]


async def test_bad_signature_gets_401_and_stores_nothing(storage_url: str) -> None:
    async with fake_graph() as api, meta_hub(storage_url, api) as rig:
        raw = json.dumps(wa_text("wamid.S1", "hello")).encode()
        good = api.sign(APP_SECRET, raw)
        digest = good.removeprefix("sha256=")
        for body, signature in [
            (raw, api.sign("another-secret-entirely", raw)),  # wrong secret
            (raw, None),  # no signature
            (raw, good.replace("sha256=", "sha1=")),  # not the SHA-256 header
            (raw.replace(b"hello", b"hellp"), good),  # one byte changed
            (raw + b" ", good),  # one byte added
            # Cut short or too long: the whole digest is compared, not the part that came.
            (raw, ""),  # the header empty
            (raw, "sha256="),  # the digest left out
            (raw, "sha256=" + digest[:1]),  # its first digit
            (raw, "sha256=" + digest[:32]),  # half of it
            (raw, good[:-1]),  # one digit short
            (raw, good + "0"),  # one digit more
            (raw, good + digest),  # twice over
        ]:
            status, answer = await rig.post(body, signature)
            assert status == 401, (signature, answer)
        assert await rig.inbound() == []
        assert await rig.events() == []
        assert await rig.outbox_rows() == []
        # The same body, signed, is taken.
        assert (await rig.post(raw, good))[0] == 200
        assert len(await rig.inbound()) == 1
        # On a store that already holds data, a refused post adds no row and changes none.
        await seed_customers(rig)
        before = await settled_snapshot(rig.hub.store)
        again = json.dumps(wa_text("wamid.S2", "hello again")).encode()
        signed = api.sign(APP_SECRET, again)
        for signature in ("", "sha256=", signed[:-1], signed + "0", api.sign("other", again)):
            assert (await rig.post(again, signature))[0] == 401, signature
        assert await settled_snapshot(rig.hub.store) == before


async def test_free_text_after_24_hours_is_refused_and_the_template_goes_out(
    storage_url: str,
) -> None:
    async with fake_graph() as api, meta_hub(storage_url, api) as rig:
        then = int(time.time()) - 25 * 3600
        assert (await rig.post(wa_text("wamid.OLD", "Hello?", ts=then)))[0] == 200
        (msg,) = await rig.inbound()
        api.window_closed.add("8801712345678")
        url = hub_url(rig.hub, f"/api/v1/tickets/{msg.ticket_id}/reply")
        async with aiohttp.ClientSession(headers=API) as s:
            async with s.post(url, json={"text": "Sorry for the wait"}) as r:
                assert r.status == 409
                reason = (await r.json())["error"]
            assert "outside the reply window" in reason
            assert "24 hours" in reason and "25 hours ago" in reason
            assert "'en'" in reason and "template" in reason
            before = len(await rig.outbox_rows())
            async with s.post(url, json={"text": "Sorry for the wait", "template": True}) as r:
                assert r.status == 202, await r.text()
                outbox_id = (await r.json())["outbox_id"]
        await rig.wait_outbox(outbox_id, "sent")
        assert len(await rig.outbox_rows()) == before + 1
        (tpl,) = [c.json for c in api.sent() if c.json and c.json.get("type") == "template"]
        assert tpl["to"] == "8801712345678"
        assert tpl["template"] == {
            "name": "support_followup",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Rahim Uddin"},
                        {"type": "text", "text": "Sorry for the wait"},
                    ],
                }
            ],
        }
        # The agent's words reached Graph only inside the template.
        assert not [
            c
            for c in api.sent()
            if c.json and c.json.get("text", {}).get("body") == "Sorry for the wait"
        ]


async def test_expired_token_disables_the_connector_and_the_reply_waits_for_the_new_one(
    storage_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with fake_graph() as api:
        async with meta_hub(storage_url, api) as rig:
            assert (await rig.post(wa_text("wamid.T1", "Is anyone there?")))[0] == 200
            (msg,) = await rig.inbound()
            (handoff,) = await rig.outbox_rows()  # the bot says a person will answer
            await rig.wait_outbox(handoff.id, "sent")
            api.tokens.clear()  # the token expires
            async with aiohttp.ClientSession(headers=API) as s:
                url = hub_url(rig.hub, f"/api/v1/tickets/{msg.ticket_id}/reply")
                async with s.post(url, json={"text": "Yes, here!"}) as r:
                    assert r.status == 202
                    outbox_id = (await r.json())["outbox_id"]
                await rig.wait_state("disabled")
                async with s.get(hub_url(rig.hub, "/healthz")) as r:
                    health = await r.json()
                async with s.get(hub_url(rig.hub, "/metrics")) as r:
                    metrics = await r.text()
            row = {r.id: r for r in await rig.outbox_rows()}[outbox_id]
            assert (row.status, row.attempts) == ("pending", 0)
            assert "auth" in row.last_error
            assert health["status"] == "degraded"
            assert health["connectors"]["wa"]["state"] == "disabled"
            assert "access token" in health["connectors"]["wa"]["error"]
            assert 'hub_connector_up{connector="wa"} 0.0' in metrics
            assert any(
                r.levelname == "ERROR" and "connector disabled id=wa reason=auth" in r.getMessage()
                for r in caplog.records
            )
            attempts = len(api.sent())
        assert (
            attempts == 2
        )  # the hand-over, and the reply tried once, then waited: nothing burnt into dead-letter
        # The operator replaces the token and restarts: the reply goes out, once.
        api.tokens.add("EAAG-renewed-token-9876543210")
        async with meta_hub(storage_url, api, token="EAAG-renewed-token-9876543210") as rig:
            row = await rig.wait_outbox(outbox_id, "sent")
        texts = [
            c
            for c in api.sent()
            if c.json and c.json.get("text") == {"body": "Yes, here!", "preview_url": False}
        ]
        # Refused once with the old token, sent once with the new one.
        assert [c.token for c in texts] == [TOKEN, "EAAG-renewed-token-9876543210"]
        async with rig.hub.store.read() as conn:
            assert len((await conn.execute(select(tickets))).all()) == 1


def _status_body(wamid: str, status: str) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "statuses": [
                                {
                                    "id": wamid,
                                    "status": status,
                                    "timestamp": str(int(time.time())),
                                    "recipient_id": "8801712345678",
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


async def test_media_over_the_cap_is_recorded_not_fetched_and_a_failed_fetch_is_retried(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    async with fake_graph() as api, meta_hub(url, api) as rig:
        api.media["big"] = ("image/jpeg", b"\xff" * (64 * 1024 + 1))
        api.media["flaky"] = ("image/png", b"\x89PNG small")
        big = _image("wamid.BIG", "big")
        assert (await rig.post(big))[0] == 200
        assert not [c for c in api.calls if c.path == "/download/big"]
        # Graph fails for now: no 2xx, nothing stored, so Meta delivers it again.
        api.fail_next("flaky", 500, 2, "Service temporarily unavailable")
        flaky = _image("wamid.FLAKY", "flaky")
        assert (await rig.post(flaky))[0] == 503
        assert [m.external_id for m in await rig.inbound()] == ["wamid.BIG"]
        assert (await rig.post(flaky))[0] == 200
        stored = await rig.inbound()
        async with rig.hub.store.read() as conn:
            files = {
                r.message_id: r
                for r in await conn.execute(select(attachments).order_by(attachments.c.id))
            }
        assert [m.external_id for m in stored] == ["wamid.BIG", "wamid.FLAKY"]
        dropped, kept = files[stored[0].id], files[stored[1].id]
        assert (dropped.content, dropped.size) == (None, 64 * 1024 + 1)
        assert dropped.dropped_reason == "larger than the 65536-byte limit"
        assert (kept.content, kept.content_type) == (b"\x89PNG small", "image/png")


def _image(wamid: str, media_id: str) -> dict:
    body = wa_text(wamid, "")
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["text"]
    message.update(type="image", image={"id": media_id, "mime_type": "image/jpeg", "sha256": "x"})
    return body


async def test_inbox_agent_is_told_about_the_window_and_can_send_the_template(
    tmp_path: Path,
) -> None:
    # The window's rules and storage are covered above on both stores; this is the form.
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    async with fake_graph() as api, meta_hub(url, api, agents=True) as rig:
        then = int(time.time()) - 30 * 3600
        assert (await rig.post(wa_text("wamid.IN1", "Anyone?", ts=then)))[0] == 200
        (msg,) = await rig.inbound()
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            csrf = await login(http, rig.hub, "sam")
            reply_url = hub_url(rig.hub, f"/inbox/tickets/{msg.ticket_id}/reply")
            form = {"csrf_token": csrf, "text": "We are sorry for the wait"}
            async with http.post(reply_url, data=form) as r:
                page = html.unescape(await r.text())
            assert "outside the reply window" in page and "30 hours ago" in page
            assert "send the approved template instead" in page
            queued = len(await rig.outbox_rows())
            async with http.post(reply_url, data={**form, "template": "yes"}) as r:
                page = html.unescape(await r.text())
            assert "Reply queued" in page
        rows = await rig.outbox_rows()
        assert len(rows) == queued + 1 and rows[-1].template == "en"
        await rig.wait_outbox(rows[-1].id, "sent")
        (tpl,) = [c.json for c in api.sent() if c.json and c.json.get("type") == "template"]
        assert tpl["template"]["name"] == "support_followup"


async def test_a_status_that_overtakes_its_send_is_applied_when_the_send_is_recorded(
    storage_url: str,
) -> None:
    async with fake_graph() as api, meta_hub(storage_url, api) as rig:
        # Meta answers the send and posts "delivered" at once; here the status comes first.
        assert (await rig.post(_status_body("wamid.EARLY", "delivered")))[0] == 200
        (early,) = await rig.events()
        assert early.message_id is None
        api.next_ids.append("wamid.EARLY")
        assert (await rig.post(wa_text("wamid.C1", "Hello")))[0] == 200
        (handoff,) = await rig.outbox_rows()
        row = await rig.wait_outbox(handoff.id, "sent")
        (event,) = await rig.events()
        assert event.message_id == row.message_id
        async with rig.hub.store.read() as conn:
            status = (
                await conn.execute(
                    select(messages.c.delivery_status).where(messages.c.id == row.message_id)
                )
            ).scalar_one()
        assert status == "delivered"
