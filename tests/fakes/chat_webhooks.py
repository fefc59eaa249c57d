"""Loopback fakes of Slack incoming webhooks and Teams Workflows webhooks.

Written from the services' documentation, they check what the real ones check and answer
as they do:
- Slack (`POST /services/T…/B…/<secret>`): a JSON object with `text` and/or Block Kit
  `blocks` (at most 50; a header's plain text at most 150 characters, a section's text at
  most 3,000). Answers 200 "ok"; 400 "invalid_payload" for a body that is not a JSON
  object, "no_text" without text or blocks, "invalid_blocks" for blocks Slack refuses;
  404 "no_service" for an unknown hook; 429 with Retry-After when rate limited.
- Teams Workflows (`POST /workflows/<id>/triggers/manual/paths/invoke?…&sig=<secret>`): a
  message `{"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "content": {AdaptiveCard}}]}`. Answers 202
  with a run id; 401 for a wrong signature; 413 over 28 KB. The real trigger accepts a
  malformed card and the flow run fails later where nobody sees it: this fake answers 400,
  so a test catches it.
Every accepted post is kept; failures can be queued, and the server can be started late
on a reserved port (a receiver that is down).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SLACK_BLOCK_TYPES = {"header", "section", "context", "divider", "actions", "image", "rich_text"}
TEAMS_MAX_BYTES = 28 * 1024


@dataclass
class Queued:
    status: int
    body: str
    retry_after: int | None = None


@dataclass
class WebhookReceiver:
    """The shared part: a real aiohttp server on loopback that records accepted posts."""

    port: int = 0
    posts: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    failures: list[Queued] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    async def start(self, port: int | None = None) -> WebhookReceiver:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def fail_next(self, status: int, body: str, retry_after: int | None = None) -> None:
        self.failures.append(Queued(status, body, retry_after))

    async def wait_for(self, predicate: Any, timeout: float = 20.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out; posts={len(self.posts)} refused={self.refused}")
            await asyncio.sleep(0.05)

    async def _handle(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            return self.unauthorized()
        raw = await request.read()
        if self.failures:
            f = self.failures.pop(0)
            headers = {"Retry-After": str(f.retry_after)} if f.retry_after is not None else {}
            self.refused.append((f.status, f.body))
            return web.Response(status=f.status, text=f.body, headers=headers)
        problem = self.check(request, raw)
        if problem is not None:
            self.refused.append(problem)
            return web.Response(status=problem[0], text=problem[1])
        self.posts.append(json.loads(raw))
        return self.accepted()

    def authorized(self, request: web.Request) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> web.Response:
        raise NotImplementedError

    def check(self, request: web.Request, raw: bytes) -> tuple[int, str] | None:
        raise NotImplementedError

    def accepted(self) -> web.Response:
        raise NotImplementedError


@dataclass
class FakeSlackWebhook(WebhookReceiver):
    secret: str = field(default_factory=lambda: uuid.uuid4().hex)
    hook_path: str = "/services/T0HUBTEST/B0HUBTEST/"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.hook_path}{self.secret}"

    def authorized(self, request: web.Request) -> bool:
        path = request.path
        given = path.removeprefix(self.hook_path) if path.startswith(self.hook_path) else ""
        return hmac.compare_digest(given.encode(), self.secret.encode())

    def unauthorized(self) -> web.Response:
        return web.Response(status=404, text="no_service")

    def accepted(self) -> web.Response:
        return web.Response(status=200, text="ok", content_type="text/html")

    def check(self, request: web.Request, raw: bytes) -> tuple[int, str] | None:
        if request.content_type != "application/json":
            return 400, "invalid_payload"
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return 400, "invalid_payload"
        if not isinstance(body, dict):
            return 400, "invalid_payload"
        text, blocks = body.get("text"), body.get("blocks")
        if text is not None and not isinstance(text, str):
            return 400, "invalid_payload"
        if not text and not blocks:
            return 400, "no_text"
        if blocks is not None and not _slack_blocks_ok(blocks):
            return 400, "invalid_blocks"
        return None

    def texts(self) -> list[str]:
        """Each accepted post's blocks' text (or its text) as one string."""
        out = []
        for p in self.posts:
            parts = [b["text"]["text"] for b in p.get("blocks", []) if "text" in b]
            out.append("\n".join(parts) or p["text"])
        return out


def _slack_blocks_ok(blocks: Any) -> bool:
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return False
    for b in blocks:
        if not isinstance(b, dict) or b.get("type") not in SLACK_BLOCK_TYPES:
            return False
        if b["type"] == "header" and not _text_ok(b.get("text"), ("plain_text",), 150):
            return False
        if b["type"] == "section" and not _text_ok(b.get("text"), ("mrkdwn", "plain_text"), 3000):
            return False
    return True


def _text_ok(text: Any, types: tuple[str, ...], limit: int) -> bool:
    """A Block Kit text object of one of `types`, 1 to `limit` characters."""
    return (
        isinstance(text, dict)
        and text.get("type") in types
        and isinstance(text.get("text"), str)
        and 0 < len(text["text"]) <= limit
    )


@dataclass
class FakeTeamsWorkflow(WebhookReceiver):
    secret: str = field(default_factory=lambda: uuid.uuid4().hex)
    flow_path: str = "/workflows/0f1e2d3c4b5a/triggers/manual/paths/invoke"

    @property
    def url(self) -> str:
        return (
            f"http://127.0.0.1:{self.port}{self.flow_path}?api-version=2016-06-01"
            f"&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.secret}"
        )

    def authorized(self, request: web.Request) -> bool:
        given = request.query.get("sig", "")
        return request.path == self.flow_path and hmac.compare_digest(
            given.encode(), self.secret.encode()
        )

    def unauthorized(self) -> web.Response:
        return web.json_response(
            {"error": {"code": "DirectApiAuthorizationRequired", "message": "bad signature"}},
            status=401,
        )

    def accepted(self) -> web.Response:
        return web.Response(status=202, headers={"x-ms-workflow-run-id": uuid.uuid4().hex})

    def check(self, request: web.Request, raw: bytes) -> tuple[int, str] | None:
        if len(raw) > TEAMS_MAX_BYTES:
            return 413, "RequestEntityTooLarge"
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return 400, "InvalidRequestContent"
        if not isinstance(body, dict) or body.get("type") != "message":
            return 400, "message type must be 'message'"
        attachments = body.get("attachments")
        if not isinstance(attachments, list) or not attachments:
            return 400, "attachments must be a non-empty list"
        for a in attachments:
            if not isinstance(a, dict) or a.get("contentType") != (
                "application/vnd.microsoft.card.adaptive"
            ):
                return 400, "attachment contentType must be an Adaptive Card"
            card = a.get("content")
            if not (
                isinstance(card, dict)
                and card.get("type") == "AdaptiveCard"
                and isinstance(card.get("version"), str)
                and isinstance(card.get("body"), list)
                and card["body"]
            ):
                return 400, "content must be an AdaptiveCard with a version and a body"
            for element in card["body"]:
                if not isinstance(element, dict) or "type" not in element:
                    return 400, "every card element needs a type"
                if element["type"] == "TextBlock" and not isinstance(element.get("text"), str):
                    return 400, "a TextBlock needs text"
            for action in card.get("actions", []):
                if action.get("type") == "Action.OpenUrl" and not str(
                    action.get("url", "")
                ).startswith(("http://", "https://")):
                    return 400, "Action.OpenUrl needs a url"
        return None

    def texts(self) -> list[str]:
        """Each accepted post's card text, one string per post."""
        return [
            "\n".join(e.get("text", "") for e in p["attachments"][0]["content"]["body"])
            for p in self.posts
        ]
