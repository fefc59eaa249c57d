"""A real hub with Telegram connectors, each talking to its own loopback fake Bot API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.app import Hub
from hub.store.schema import messages
from tests.fakes.telegram_api import FakeBotApi
from tests.migrated import copy_sqlite
from tests.support import ROOT, base_config, free_port, hub_running, make_config

CORPUS = ROOT.parent / "shared" / "corpora" / "telegram"
# Bot ids as in Zammad's spec, whose updates these are.
TOKEN = "123456789:TEST-token_abcdefghijklmnop"
TOKEN2 = "987654321:TEST-token_2bcdefghijklmnop"
SECRET = "test-webhook-secret_0123456789"

# What the fake serves for the file ids the corpus mentions; paths shaped like Telegram's.
FILES = {
    "documentfileid": ("documents/file_1.pdf", b"%PDF-1.4 a small document"),
    "photofileid1": ("photos/file_2.jpg", b"\xff\xd8\xff small"),
    "photofileid2": ("photos/file_3.jpg", b"\xff\xd8\xff medium"),
    "photofileid3": ("photos/file_4.jpg", b"\xff\xd8\xff large"),
    "videofileid": ("videos/file_5.mp4", b"\x00\x00\x00\x18ftypmp42"),
    "voicefileid": ("voice/file_6.oga", b"OggS voice"),
    "stickerfileid": ("stickers/file_7.tgs", b"\x1f\x8b animated sticker"),
}


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    """A database of its own at the schema's head: the corpus matrix starts many hubs."""
    await copy_sqlite(tmp_path / "hub.db")
    return f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"


def corpus(name: str) -> dict[str, Any]:
    return json.loads((CORPUS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def corpus_names() -> list[str]:
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*.json"))


@dataclass(frozen=True)
class Bot:
    connector_id: str
    token: str
    username: str


BOT = Bot("tg", TOKEN, "ChrispressoBot")
BOT2 = Bot("tg2", TOKEN2, "ChrispressoBot2")


@dataclass
class Rig:
    hub: Hub
    mode: str
    apis: dict[str, FakeBotApi]

    @property
    def api(self) -> FakeBotApi:
        return self.apis[BOT.connector_id]

    async def deliver(self, update: dict[str, Any], connector_id: str = "tg") -> int:
        """Hand one update to the hub as Telegram would in this mode; the HTTP status
        (polling: 200 once Telegram saw it confirmed by the next getUpdates offset)."""
        api = self.apis[connector_id]
        if self.mode == "webhook":
            return await api.deliver_webhook(update)
        await self.push_and_wait(api, [update])
        return 200

    async def push_and_wait(self, api: FakeBotApi, updates: list[dict[str, Any]]) -> None:
        before = len(api.sent("getUpdates"))
        last = max(u["update_id"] for u in updates)
        await api.push_updates(updates)

        def confirmed() -> bool:
            later = api.sent("getUpdates")[before:]
            return any((c.params.get("offset") or 0) > last for c in later)

        await eventually(confirmed, what=f"getUpdates confirming update {last}")

    async def inbound(self) -> list[Any]:
        async with self.hub.store.read() as conn:
            rows = await conn.execute(
                select(messages).where(messages.c.direction == "in").order_by(messages.c.id)
            )
            return list(rows.all())


def telegram_entry(bot: Bot, api: FakeBotApi, mode: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": bot.connector_id,
        "type": "telegram",
        "bot_token": bot.token,
        "mode": mode,
        "webhook_secret_token": SECRET,
        "api_url": api.url,
        "polling_timeout_seconds": 5,
        "request_timeout_seconds": 5,
        **extra,
    }


@contextlib.asynccontextmanager
async def telegram_hub(
    storage_url: str,
    mode: str,
    *,
    bots: tuple[Bot, ...] = (BOT,),
    connector: dict[str, Any] | None = None,
    outbox: dict[str, Any] | None = None,
    wait_ready: bool = True,
    extra_connectors: tuple[dict[str, Any], ...] = (),
    extra_config: dict[str, Any] | None = None,
) -> AsyncIterator[Rig]:
    apis = {b.connector_id: await FakeBotApi(b.token, b.username).start() for b in bots}
    for api in apis.values():
        for file_id, (path, content) in FILES.items():
            api.add_file(file_id, path, content)
    port = free_port()
    data = base_config(
        storage_url,
        web={"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
    )
    data["connectors"] += [
        telegram_entry(b, apis[b.connector_id], mode, **(connector or {})) for b in bots
    ]
    data["connectors"] += list(extra_connectors)
    data.update(extra_config or {})
    if outbox:
        data["outbox"] = {**data["outbox"], **outbox}
    try:
        async with hub_running(make_config(data)) as hub:
            rig = Rig(hub, mode, apis)
            for b in bots if wait_ready else ():
                await eventually(
                    lambda b=b: hub.supervisors[b.connector_id].ready,
                    what=f"connector {b.connector_id} running",
                )
            yield rig
    finally:
        for api in apis.values():
            await api.stop()


async def eventually(
    check: Callable[[], bool] | Callable[[], Awaitable[bool]],
    *,
    what: str,
    # Generous: CI machines are shared, and a slow pass beats a flaky one.
    timeout: float = 20.0,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
