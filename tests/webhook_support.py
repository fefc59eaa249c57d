"""A webhook receiver on loopback that verifies every delivery with the Standard Webhooks
reference library, and answers with the statuses a test lines up."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    payload: Any  # the verified JSON, or None if verification failed
    error: str | None


@dataclass
class Receiver:
    """POSTs to /hook: verified with `secret`, answered from `answers` (then 200)."""

    secret: str = SECRET
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Delivery] = field(default_factory=list)
    # Set: the handler waits on it before answering (a receiver that hangs).
    hold: asyncio.Event | None = None
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def verified(self) -> list[Any]:
        return [d.payload for d in self.received if d.error is None]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        try:
            payload = Webhook(self.secret).verify(body, headers)
            error = None
        except WebhookVerificationError as exc:
            payload, error = None, str(exc)
        self.received.append(Delivery(headers, body, payload, error))
        if self.hold is not None:
            await self.hold.wait()
        status, extra = self.answers.pop(0) if self.answers else (200, {})
        return web.Response(status=status, headers=extra, text="ok")

    async def start(self, port: int = 0) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class Clock:
    """A clock the test moves by hand (near real time: receivers reject old timestamps)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def endpoint_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"id": "bridge", "url": url, "secret": SECRET, "allow_private": True, **extra}


def tamper(body: bytes) -> bytes:
    data = json.loads(body)
    data["data"]["tampered"] = True
    return json.dumps(data).encode()


async def wait_for_types(receiver: Receiver, types: list[str], timeout: float = 15.0) -> list[Any]:
    """The verified payloads once `types` were all received (in any order), else fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = receiver.verified()
        seen = [p["type"] for p in got]
        if all(seen.count(t) >= types.count(t) for t in set(types)):
            return got
        if loop.time() > deadline:
            raise AssertionError(f"expected {types}, received {seen}")
        await asyncio.sleep(0.05)
