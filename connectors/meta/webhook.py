"""The webhook all three products share: Meta's subscription handshake, and signed posts.

A post is checked against X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the app
secret) in constant time before a byte of it is parsed, and answered 200 only once every
message and event in it is committed: any other answer makes Meta deliver it again, and
what was stored the first time is dropped as a duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from connectors.http_body import read_bounded
from hub.connector import HostileBody, HubContext, IngestUnavailable, read_json

SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_CHALLENGE_CHARS = 64


class FetchFailed(Exception):
    """Media could not be fetched now; the delivery is refused so Meta sends it again."""


def signature_ok(secret: bytes, body: bytes, header: str) -> bool:
    if not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace"))


def webhook_app(
    *,
    ctx: HubContext,
    product: str,
    app_secret: Callable[[], bytes],
    verify_token: Callable[[], bytes],
    max_body_bytes: int,
    process: Callable[[Any, bytes], Awaitable[str]],
) -> web.Application:
    log = ctx.logger

    async def handshake(request: web.Request) -> web.Response:
        q = request.query
        token = q.get("hub.verify_token", "").encode()
        challenge = q.get("hub.challenge", "")
        if (
            q.get("hub.mode") == "subscribe"
            and hmac.compare_digest(token, verify_token())
            # Meta's challenge is a number; anything else is not echoed back.
            and challenge.isdigit()
            and len(challenge) <= MAX_CHALLENGE_CHARS
        ):
            log.info("%s webhook verified connector=%s", product, ctx.connector_id)
            return web.Response(text=challenge, content_type="text/plain")
        log.warning("%s webhook handshake refused connector=%s", product, ctx.connector_id)
        return web.json_response({"error": "verify token mismatch"}, status=403)

    async def receive(request: web.Request) -> web.Response:
        body = await read_bounded(request, max_body_bytes)
        if body is None:
            return web.json_response({"error": "body too large"}, status=413)
        if not signature_ok(app_secret(), body, request.headers.get(SIGNATURE_HEADER, "")):
            log.warning(
                "%s webhook refused connector=%s reason=signature", product, ctx.connector_id
            )
            return web.json_response({"error": "bad or missing X-Hub-Signature-256"}, status=401)
        try:
            raw = read_json(body)
        except HostileBody as exc:
            # Signed, so from Meta: keep it for a person to look at.
            await ctx.storage.quarantine(body, f"webhook body refused: {exc}")
            log.warning("%s webhook quarantined connector=%s", product, ctx.connector_id)
            return web.json_response({"status": "quarantined"})
        try:
            outcome = await process(raw, body)
        except IngestUnavailable:
            return _unavailable("the hub cannot store messages right now")
        except FetchFailed as exc:
            log.warning(
                "%s media fetch failed connector=%s error=%s", product, ctx.connector_id, exc
            )
            return _unavailable("could not fetch the message's media")
        return web.json_response({"status": outcome})

    app = web.Application()
    app.router.add_get("/webhook", handshake)
    app.router.add_post("/webhook", receive)
    return app


def _unavailable(reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=503, headers={"Retry-After": "30"})
