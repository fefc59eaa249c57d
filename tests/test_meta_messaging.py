"""Messenger and Instagram through the real hub and the loopback Graph API fake, with
webhook bodies shaped as Meta documents them
(https://developers.facebook.com/docs/messenger-platform/webhooks,
https://developers.facebook.com/docs/messenger-platform/reference/webhook-events,
https://developers.facebook.com/docs/instagram-platform/webhooks/examples)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from connectors.meta.errors import GraphError
from hub.connector import PermanentSendError
from hub.messages import Address, Attachment, OutboundMessage
from hub.store.schema import attachments, identities, messages
from tests.meta_harness import IG_ID, PAGE_ID, PHONE_NUMBER_ID, fake_graph, meta_hub
from tests.snapshot import settled_snapshot
from tests.support import hub_url

API = {"Authorization": "Bearer test-token-0123456789"}
PSID = "6011234567890123"
IGSID = "5290000000000001"


def delivery(obj: str, account: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": obj,
        "entry": [{"id": account, "time": int(time.time() * 1000), "messaging": list(items)}],
    }


def item(sender: str, account: str, ts_ms: int | None = None, **event: Any) -> dict[str, Any]:
    return {
        "sender": {"id": sender},
        "recipient": {"id": account},
        "timestamp": ts_ms if ts_ms is not None else int(time.time() * 1000),
        **event,
    }


async def test_messenger_messages_media_buttons_and_our_reply(storage_url: str) -> None:
    async with fake_graph(("messenger",)) as api, meta_hub(storage_url, api, "messenger") as rig:
        api.cdn["photo1"] = b"\xff\xd8\xff messenger photo"
        api.cdn["big1"] = b"x" * (64 * 1024 + 1)
        cdn = f"{api.url}/cdn"
        body = delivery(
            "page",
            PAGE_ID,
            item(PSID, PAGE_ID, message={"mid": "m_1", "text": "Hi, my order is late"}),
            item(
                PSID,
                PAGE_ID,
                message={
                    "mid": "m_2",
                    "attachments": [
                        {"type": "image", "payload": {"url": f"{cdn}/photo1"}},
                        {"type": "file", "payload": {"url": f"{cdn}/big1"}},
                    ],
                },
            ),
            item(
                PSID,
                PAGE_ID,
                message={"mid": "m_3", "text": "Yes", "quick_reply": {"payload": "CONFIRM"}},
            ),
            item(PSID, PAGE_ID, postback={"mid": "m_4", "title": "Talk to us", "payload": "HELP"}),
            # What the page itself sent comes back as an echo: not the customer's.
            item(PAGE_ID, PSID, message={"mid": "m_echo", "text": "ours", "is_echo": True}),
        )
        status, answer = await rig.post(body)
        assert status == 200, answer
        stored = await rig.inbound()
        assert [(m.external_id, m.body_text, m.meta["kind"]) for m in stored] == [
            ("m_1", "Hi, my order is late", "text"),
            ("m_2", "", "file"),
            ("m_3", "Yes", "button"),
            ("m_4", "Talk to us", "button"),
        ]
        assert stored[2].meta["payload"] == "CONFIRM" and stored[3].meta["payload"] == "HELP"
        assert len({m.ticket_id for m in stored}) == 1
        async with rig.hub.store.read() as conn:
            files = (
                await conn.execute(
                    select(attachments).where(attachments.c.message_id == stored[1].id)
                )
            ).all()
            ids = (
                await conn.execute(
                    select(identities.c.kind, identities.c.value).where(
                        identities.c.customer_id == stored[0].customer_id
                    )
                )
            ).all()
        assert [(f.content, f.dropped_reason) for f in files] == [
            (b"\xff\xd8\xff messenger photo", None),
            (None, "larger than the 65536-byte limit"),
        ]
        assert [tuple(i) for i in ids] == [("messenger", PSID)]
        # The CDN URL is signed; our token is not sent to it.
        assert all(c.token == "" for c in api.calls if c.path.startswith("/cdn/"))

        async with aiohttp.ClientSession(headers=API) as s:
            url = hub_url(rig.hub, f"/api/v1/tickets/{stored[0].ticket_id}/reply")
            async with s.post(url, json={"text": "Sorry! It ships today."}) as r:
                assert r.status == 202, await r.text()
                outbox_id = (await r.json())["outbox_id"]
        row = await rig.wait_outbox(outbox_id, "sent")
        call = next(
            c for c in api.sent() if c.json["message"].get("text") == "Sorry! It ships today."
        )
        assert call.path == f"/v21.0/{PAGE_ID}/messages"
        assert call.json == {
            "recipient": {"id": PSID},
            "messaging_type": "RESPONSE",
            "message": {"text": "Sorry! It ships today."},
        }
        # Delivery of ours, a reaction and an edit of theirs, each marking its message.
        events = delivery(
            "page",
            PAGE_ID,
            item(PSID, PAGE_ID, delivery={"mids": [row.remote_id], "watermark": 1}),
            item(
                PSID,
                PAGE_ID,
                reaction={"mid": "m_1", "action": "react", "emoji": "\u2764", "reaction": "love"},
            ),
            item(
                PSID,
                PAGE_ID,
                message_edit={"mid": "m_1", "text": "Hi, order 42 is late", "num_edit": 1},
            ),
        )
        assert (await rig.post(events))[0] == 200
        async with rig.hub.store.read() as conn:
            ours = (
                await conn.execute(select(messages).where(messages.c.id == row.message_id))
            ).one()
            theirs = (
                await conn.execute(select(messages).where(messages.c.id == stored[0].id))
            ).one()
        assert ours.delivery_status == "delivered"
        assert theirs.body_text == "Hi, order 42 is late" and theirs.edited_at is not None
        kinds = sorted((e.kind, e.value) for e in await rig.events())
        assert kinds == [
            ("edit", "Hi, order 42 is late"),
            ("reaction", "\u2764"),
            ("status", "delivered"),
        ]
        # Replays of both deliveries, and an echo of ours alone, add no row and change none.
        before = await settled_snapshot(rig.hub.store)
        echo = item(PAGE_ID, PSID, message={"mid": "m_echo2", "text": "ours", "is_echo": True})
        for again in (body, events, delivery("page", PAGE_ID, echo)):
            assert (await rig.post(again))[0] == 200
        assert await settled_snapshot(rig.hub.store) == before


async def test_messenger_window_refuses_free_text_and_has_no_templates(tmp_path: Path) -> None:
    # The window's query runs on both stores in test_meta_whatsapp.py: SQLite is enough here.
    storage_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    async with fake_graph(("messenger",)) as api, meta_hub(storage_url, api, "messenger") as rig:
        old = int((time.time() - 25 * 3600) * 1000)
        body = delivery(
            "page", PAGE_ID, item(PSID, PAGE_ID, old, message={"mid": "m_old", "text": "Hello?"})
        )
        assert (await rig.post(body))[0] == 200
        (msg,) = await rig.inbound()
        url = hub_url(rig.hub, f"/api/v1/tickets/{msg.ticket_id}/reply")
        before = len(await rig.outbox_rows())
        async with aiohttp.ClientSession(headers=API) as s:
            async with s.post(url, json={"text": "Late answer"}) as r:
                assert r.status == 409
                reason = (await r.json())["error"]
            async with s.post(url, json={"text": "Late answer", "template": True}) as r:
                assert r.status == 409
                assert (await r.json())["error"] == "messenger has no message templates"
        assert "outside the reply window" in reason and "25 hours ago" in reason
        assert "wait for the customer to write again" in reason
        assert len(await rig.outbox_rows()) == before


async def test_instagram_messages_deletions_reads_and_reply(storage_url: str) -> None:
    async with fake_graph(("instagram",)) as api, meta_hub(storage_url, api, "instagram") as rig:
        api.cdn["reel1"] = b"\x00\x00\x00\x18ftypmp42 a clip"
        body = delivery(
            "instagram",
            IG_ID,
            item(IGSID, IG_ID, message={"mid": "aWdfZAG1", "text": "Do you ship to Sylhet?"}),
            item(
                IGSID,
                IG_ID,
                message={
                    "mid": "aWdfZAG2",
                    "attachments": [{"type": "video", "payload": {"url": f"{api.url}/cdn/reel1"}}],
                },
            ),
            item(
                IGSID,
                IG_ID,
                message={"mid": "aWdfZAG3", "text": "this one", "reply_to": {"mid": "aWdfZAG1"}},
            ),
        )
        assert (await rig.post(body))[0] == 200
        stored = await rig.inbound()
        assert [(m.channel, m.external_id, m.sender) for m in stored] == [
            ("instagram", "aWdfZAG1", IGSID),
            ("instagram", "aWdfZAG2", IGSID),
            ("instagram", "aWdfZAG3", IGSID),
        ]
        assert stored[2].meta["reply_to_message"] == "aWdfZAG1"
        async with rig.hub.store.read() as conn:
            (clip,) = (
                await conn.execute(
                    select(attachments).where(attachments.c.message_id == stored[1].id)
                )
            ).all()
        assert (clip.content_type, clip.content) == (
            "video/mp4",
            b"\x00\x00\x00\x18ftypmp42 a clip",
        )

        async with aiohttp.ClientSession(headers=API) as s:
            url = hub_url(rig.hub, f"/api/v1/tickets/{stored[0].ticket_id}/reply")
            async with s.post(url, json={"text": "Yes, we do."}) as r:
                assert r.status == 202
                outbox_id = (await r.json())["outbox_id"]
        row = await rig.wait_outbox(outbox_id, "sent")
        call = next(c for c in api.sent() if c.json["message"].get("text") == "Yes, we do.")
        assert call.path == f"/v21.0/{IG_ID}/messages"
        assert call.json["recipient"] == {"id": IGSID}

        events = delivery(
            "instagram",
            IG_ID,
            item(IGSID, IG_ID, read={"mid": row.remote_id}),
            item(IGSID, IG_ID, message={"mid": "aWdfZAG3", "is_deleted": True}),
        )
        assert (await rig.post(events))[0] == 200
        async with rig.hub.store.read() as conn:
            ours = (
                await conn.execute(select(messages).where(messages.c.id == row.message_id))
            ).one()
            gone = (await conn.execute(select(messages).where(messages.c.id == stored[2].id))).one()
        assert ours.delivery_status == "read"
        assert gone.deleted_at is not None
        # A delivery for the other product is not ours to read: nothing added or changed.
        before = await settled_snapshot(rig.hub.store)
        page = delivery("page", PAGE_ID, item(PSID, PAGE_ID, message={"mid": "m_x", "text": "x"}))
        assert (await rig.post(page))[0] == 200
        assert len(await rig.inbound()) == 3
        assert await settled_snapshot(rig.hub.store) == before


async def test_files_are_uploaded_and_a_retry_sends_only_what_is_missing(tmp_path: Path) -> None:
    """As the outbox calls send(): WhatsApp uploads each file to /media first, Messenger
    posts it as multipart filedata, Instagram refuses files with the reason."""
    files = (
        Attachment("parcel.jpg", "image/jpeg", b"\xff\xd8\xff parcel"),
        Attachment("invoice.pdf", "application/pdf", b"%PDF-1.4 invoice"),
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    async with fake_graph(("whatsapp",)) as api, meta_hub(url, api) as rig:
        wa = rig.hub.connectors["wa"]
        msg = OutboundMessage(
            connector_id="wa",
            to=Address("whatsapp", "8801712345678"),
            text="Here are the photo and the invoice.",
            idempotency_key="files-1",
            attachments=files,
        )
        api.fail_next(f"{PHONE_NUMBER_ID}/media", 500, 2, "Service temporarily unavailable")
        with pytest.raises(GraphError):
            await wa.send(msg)  # the text went out, the first upload failed
        remote_id = await wa.send(msg)
        sent = [c.json for c in api.sent()]
        uploads = [c for c in api.calls if c.path.endswith("/media")]
    assert [s["type"] for s in sent] == ["text", "image", "document"]
    assert remote_id.startswith("wamid.")  # the first part's: statuses are tracked by it
    assert sent[1]["image"]["id"] and sent[2]["document"]["filename"] == "invoice.pdf"
    assert [u.files["file"] for u in uploads[1:]] == [
        ("parcel.jpg", "image/jpeg", b"\xff\xd8\xff parcel"),
        ("invoice.pdf", "application/pdf", b"%PDF-1.4 invoice"),
    ]
    assert all(u.form["messaging_product"] == "whatsapp" for u in uploads)

    async with fake_graph(("messenger",)) as api, meta_hub(url, api, "messenger") as rig:
        msg = OutboundMessage(
            connector_id="me",
            to=Address("messenger", PSID),
            text="The photo:",
            idempotency_key="files-2",
            attachments=files[:1],
        )
        await rig.hub.connectors["me"].send(msg)
        text, photo = api.sent()
    assert text.json["message"] == {"text": "The photo:"}
    assert photo.json["recipient"] == {"id": PSID}
    assert photo.json["message"] == {
        "attachment": {"type": "image", "payload": {"is_reusable": False}}
    }
    assert photo.files["filedata"] == ("parcel.jpg", "image/jpeg", b"\xff\xd8\xff parcel")

    async with fake_graph(("instagram",)) as api, meta_hub(url, api, "instagram") as rig:
        msg = OutboundMessage(
            connector_id="in",
            to=Address("instagram", IGSID),
            text="The photo:",
            idempotency_key="files-3",
            attachments=files[:1],
        )
        with pytest.raises(PermanentSendError, match="public URL"):
            await rig.hub.connectors["in"].send(msg)
        assert api.sent() == []
