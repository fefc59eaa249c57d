"""Hostile bodies that carry a valid signature (Telegram's secret, Meta's HMAC) and hostile
web chat frames (issue 13): quarantined with the reason, or an error frame; never a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from hub.app import Hub
from hub.store.schema import messages, quarantine
from tests import telegram_harness
from tests.meta_harness import fake_graph, meta_hub, wa_text
from tests.support import hub_running, hub_url
from tests.telegram_harness import SECRET, corpus, telegram_hub
from tests.webchat_support import chat_config, open_tab

sqlite_url = telegram_harness.sqlite_url

pytestmark = [
    pytest.mark.filterwarnings("ignore:Please use 'Bot.getUpdates':UserWarning"),
    pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning"),
]

DEEP = b"[" * 50_000 + b"]" * 50_000


def _hostile_updates() -> list[tuple[str, bytes, str]]:
    text = corpus("private/text.json")
    surrogate = json.dumps(text).replace(json.dumps(text["message"]["text"]), '"hi \\ud800"')
    return [
        ("lone surrogate in the text", surrogate.encode(), "surrogate"),
        ("nested 50,000 deep", b'{"update_id": 9, "x": ' + DEEP + b"}", "nested"),
        ("a 10,000-digit number", b'{"update_id": ' + b"9" * 10_000 + b"}", "number"),
    ]


async def _stored(hub: Hub) -> tuple[list[Any], int]:
    async with hub.store.read() as conn:
        kept = (await conn.execute(select(quarantine).order_by(quarantine.c.id))).all()
        count = (await conn.execute(select(func.count()).select_from(messages))).scalar_one()
    return list(kept), count


@pytest.mark.parametrize(
    ("what", "body", "reason"), _hostile_updates(), ids=[u[0] for u in _hostile_updates()]
)
async def test_a_hostile_telegram_update_with_the_secret_is_quarantined(
    storage_url: str, what: str, body: bytes, reason: str
) -> None:
    async with (
        telegram_hub(storage_url, "webhook", connector={"max_body_bytes": 200_000}) as rig,
        aiohttp.ClientSession() as http,
    ):
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
        url = hub_url(rig.hub, "/channels/tg/webhook")
        async with http.post(url, data=body, headers=headers) as resp:
            assert resp.status == 200, (what, await resp.text())
            assert (await resp.json())["status"] == "quarantined"
        kept, count = await _stored(rig.hub)
        assert count == 0
        # A good update after it is stored: the hub kept serving.
        assert await rig.api.deliver_webhook(corpus("private/text.json")) == 200
        assert len(await rig.inbound()) == 1
    assert [k.raw for k in kept] == [body]
    assert reason in kept[0].reason


def _hostile_meta() -> list[tuple[str, bytes, str]]:
    text = json.dumps(wa_text("wamid.H1", "PLACEHOLDER"))
    return [
        ("lone surrogate in the text", text.replace("PLACEHOLDER", "hi \\ud800").encode(), "surrogate"),
        ("nested 50,000 deep", b'{"object": "whatsapp_business_account", "x": ' + DEEP + b"}", "nested"),
        ("a 10,000-digit number", b'{"object": ' + b"9" * 10_000 + b"}", "number"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "body", "reason"), _hostile_meta(), ids=[u[0] for u in _hostile_meta()]
)
async def test_a_hostile_signed_meta_webhook_body_is_quarantined(
    storage_url: str, what: str, body: bytes, reason: str
) -> None:
    async with fake_graph() as api, meta_hub(storage_url, api) as rig:
        status, answer = await rig.post(body)
        assert (status, answer) == (200, {"status": "quarantined"}), what
        kept, count = await _stored(rig.hub)
        assert count == 0
        status, _ = await rig.post(wa_text("wamid.H2", "after"))
        assert status == 200
        assert [m.body_text for m in await rig.inbound()] == ["after"]
    assert [k.raw for k in kept] == [body]
    assert reason in kept[0].reason


async def test_a_deeply_nested_web_chat_frame_gets_an_error_frame(tmp_path: Path) -> None:
    # 10,000 deep: far past the recursion limit, and within the socket's frame size.
    async with hub_running(chat_config(tmp_path)) as hub, open_tab(hub) as tab:
        await tab.ws.send_str(
            '{"type": "message", "id": "x1", "text": ' + "[" * 10_000 + "]" * 10_000 + "}"
        )
        error = await tab.next(lambda f: f["type"] == "error")
        assert error["code"] == "invalid" and "nested" in error["text"]
        # The socket still serves: a message after it is acknowledged.
        ack = await tab.say("/start", command="start")
        assert ack["type"] == "ack"
