"""Web chat test helpers: a hub with a webchat connector, and a tab speaking its protocol."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from hub.app import Hub
from hub.config.loader import Config
from hub.messages import Address
from hub.outbox.enqueue import enqueue_outbound
from hub.store import utcnow
from hub.store.schema import outbox
from tests.support import base_config, hub_url, make_config

ORIGIN = "https://shop.example"
_ids = itertools.count(1)


def chat_config(tmp_path: Path, port: int = 0, **chat: Any) -> Config:
    """Only the web chat (`chat`); it answers itself, so acknowledgements come back live."""
    data = base_config(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    if port:
        data["web"] = {**data["web"], "port": port, "public_url": f"http://127.0.0.1:{port}"}
    data["connectors"] = [
        {"id": "chat", "type": "webchat", "allowed_origins": [ORIGIN], **chat},
    ]
    return make_config(data)


def socket_url(hub: Hub) -> str:
    return hub_url(hub, "/channels/chat/ws").replace("http://", "ws://")


@dataclass
class Tab:
    """One browser tab's socket: frames are kept in arrival order until taken."""

    ws: aiohttp.ClientWebSocketResponse
    welcome: dict[str, Any]
    frames: list[dict[str, Any]] = field(default_factory=list)

    @property
    def token(self) -> str:
        return str(self.welcome["token"])

    @property
    def visitor(self) -> str:
        return self.token.split(".")[0]

    async def next(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for i, frame in enumerate(self.frames):
                    if match(frame):
                        return self.frames.pop(i)
                self.frames.append(await self.ws.receive_json())

    async def say(self, text: str, client_id: str | None = None, **extra: Any) -> dict[str, Any]:
        """Send a message; the hub's ack or error for it."""
        cid = client_id or f"c{next(_ids):08d}"
        await self.ws.send_json({"type": "message", "id": cid, "text": text, **extra})
        return await self.next(lambda f: f.get("id") == cid and f["type"] in ("ack", "error"))

    async def reply(self, text: str) -> dict[str, Any]:
        return await self.next(lambda f: f["type"] == "message" and f["text"] == text)


@contextlib.asynccontextmanager
async def open_tab(
    hub: Hub,
    token: str | None = None,
    *,
    origin: str | None = ORIGIN,
    language: str | None = "en-US",
) -> AsyncIterator[Tab]:
    headers = {"Origin": origin} if origin else {}
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(socket_url(hub), headers=headers)
        try:
            await ws.send_json({"type": "hello", "token": token, "language": language})
            welcome = await ws.receive_json(timeout=5)
            assert welcome["type"] == "welcome", welcome
            yield Tab(ws, welcome)
        finally:
            await ws.close()


async def queue_agent_reply(hub: Hub, visitor: str, text: str, ticket_id: int | None) -> int:
    """An agent's reply into the chat, queued through the outbox as the inbox does it."""
    async with hub.store.write() as conn:
        outbox_id = await enqueue_outbound(
            conn,
            connector_id="chat",
            ticket_id=ticket_id,
            customer_id=None,
            to=Address("webchat", visitor),
            kind="agent_reply",
            subject=None,
            text=text,
            html=None,
            auto_submitted=False,
            language="en",
            now=utcnow(),
        )
    hub.outbox.wake()
    return outbox_id


async def wait_sent(hub: Hub, outbox_id: int, timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            async with hub.store.read() as conn:
                row = (await conn.execute(select(outbox).where(outbox.c.id == outbox_id))).one()
            if row.status == "sent":
                return row
            await asyncio.sleep(0.02)
