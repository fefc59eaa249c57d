"""A loopback fake of Meta's Graph API, written from its documentation:

- WhatsApp Cloud API: `POST /<version>/<phone-number-id>/messages` (JSON; answers
  `{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id"}]}`),
  `POST /<version>/<phone-number-id>/media` (multipart `file`, `type`,
  `messaging_product`; answers `{"id"}`), `GET /<version>/<media-id>` (answers `{"url",
  "mime_type", "sha256", "file_size", "id", "messaging_product"}`) and the download of that
  URL, which needs the same bearer token
  (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media).
- Messenger / Instagram Send API: `POST /<version>/<page-or-ig-id>/messages` with JSON or
  multipart `filedata`; answers `{"recipient_id", "message_id"}`.
- `GET /<version>/<node-id>` for the accounts themselves.
- Errors as Graph sends them: `{"error": {"message", "type", "code", "error_subcode",
  "fbtrace_id"}}`; an unknown or expired token gets HTTP 401 with code 190.
- Meta's side of the webhook: `post_webhook` signs a body with the app secret
  (X-Hub-Signature-256) and POSTs it.

It records every call so tests can assert what it got.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

# Re-engagement: free text after the 24-hour customer-service window.
REENGAGEMENT = 131047


@dataclass
class Call:
    method: str
    path: str
    token: str
    json: dict[str, Any] | None = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)


class FakeGraphApi:
    def __init__(self, token: str, accounts: tuple[str, ...], version: str = "v21.0") -> None:
        self.tokens = {token}
        self.accounts = set(accounts)
        self.version = version
        self.calls: list[Call] = []
        # media id -> (mime type, content), for WhatsApp media lookups and downloads.
        self.media: dict[str, tuple[str, bytes]] = {}
        # CDN path -> content, for Messenger / Instagram attachment URLs.
        self.cdn: dict[str, bytes] = {}
        # Ids the next sends get (else generated).
        self.next_ids: list[str] = []
        # WhatsApp recipients whose 24-hour window is closed: free text is refused.
        self.window_closed: set[str] = set()
        # node id -> errors its next requests get: (HTTP status, Graph code, message).
        self.failures: dict[str, list[tuple[int, int, str]]] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, node: str, status: int, code: int, message: str) -> None:
        """The next request about `node` (a media id, an account, "<account>/media",
        "<account>/messages") gets this error."""
        self.failures.setdefault(node, []).append((status, code, message))

    def _failure(self, node: str) -> web.Response | None:
        if self.failures.get(node):
            status, code, message = self.failures[node].pop(0)
            return self._error(status, code, message)
        return None

    def sent(self) -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.path.endswith("/messages")]

    async def start(self) -> FakeGraphApi:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_get("/download/{media_id}", self._download)
        app.router.add_get("/cdn/{name}", self._cdn)
        app.router.add_get("/{version}/{node}", self._node)
        app.router.add_post("/{version}/{node}/messages", self._messages)
        app.router.add_post("/{version}/{node}/media", self._upload)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- Meta's side of the webhook -----------------------------------------------------

    @staticmethod
    def sign(secret: str, body: bytes) -> str:
        return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    @staticmethod
    async def post_webhook(
        url: str, body: bytes, signature: str | None
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with aiohttp.ClientSession() as s, s.post(url, data=body, headers=headers) as r:
            return r.status, await r.json(content_type=None)

    # -- the API ----------------------------------------------------------------------------

    def _token(self, request: web.Request) -> str | None:
        """The bearer token if it is a valid one, else None."""
        token = self._presented(request)
        return token if token in self.tokens else None

    @staticmethod
    def _presented(request: web.Request) -> str:
        auth = request.headers.get("Authorization", "")
        return auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""

    @staticmethod
    def _error(status: int, code: int, message: str, subcode: int | None = None) -> web.Response:
        error: dict[str, Any] = {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": "AbCdEfGh",
        }
        if subcode is not None:
            error["error_subcode"] = subcode
        return web.json_response({"error": error}, status=status)

    def _expired(self) -> web.Response:
        return self._error(
            401,
            190,
            "Error validating access token: Session has expired on Monday, 23-Nov-26.",
            463,
        )

    async def _node(self, request: web.Request) -> web.Response:
        node = request.match_info["node"]
        token = self._token(request)
        self.calls.append(Call("GET", request.path, self._presented(request)))
        if token is None:
            return self._expired()
        if (failure := self._failure(node)) is not None:
            return failure
        if node in self.accounts:
            return web.json_response({"id": node})
        if node in self.media:
            mime, content = self.media[node]
            return web.json_response(
                {
                    "messaging_product": "whatsapp",
                    "url": f"{self.url}/download/{node}",
                    "mime_type": mime,
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "file_size": len(content),
                    "id": node,
                }
            )
        return self._error(
            400, 100, f"Unsupported get request. Object with ID '{node}' does not exist"
        )

    async def _download(self, request: web.Request) -> web.Response:
        media_id = request.match_info["media_id"]
        token = self._token(request)
        self.calls.append(Call("GET", request.path, self._presented(request)))
        if token is None:
            return self._expired()
        if media_id not in self.media:
            return web.Response(status=404)
        mime, content = self.media[media_id]
        return web.Response(body=content, content_type=mime.split(";")[0])

    async def _cdn(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.calls.append(Call("GET", request.path, request.headers.get("Authorization", "")))
        if name not in self.cdn:
            return web.Response(status=404)
        return web.Response(body=self.cdn[name], content_type="application/octet-stream")

    async def _upload(self, request: web.Request) -> web.Response:
        token = self._token(request)
        form, files = await _multipart(request)
        self.calls.append(
            Call("POST", request.path, self._presented(request), form=form, files=files)
        )
        if token is None:
            return self._expired()
        if (failure := self._failure(f"{request.match_info['node']}/media")) is not None:
            return failure
        if form.get("messaging_product") != "whatsapp" or "file" not in files:
            return self._error(400, 100, "(#100) The parameter messaging_product is required.")
        media_id = f"{900000 + next(self._ids)}"
        self.media[media_id] = (form.get("type", files["file"][1]), files["file"][2])
        return web.json_response({"id": media_id})

    async def _messages(self, request: web.Request) -> web.Response:
        node = request.match_info["node"]
        token = self._token(request)
        if request.content_type.startswith("multipart/"):
            form, files = await _multipart(request)
            body = {
                k: json.loads(v) if k in ("recipient", "message") else v for k, v in form.items()
            }
            call = Call(
                "POST", request.path, self._presented(request), json=body, form=form, files=files
            )
        else:
            body = await request.json()
            call = Call("POST", request.path, self._presented(request), json=body)
        self.calls.append(call)
        if token is None:
            return self._expired()
        if node not in self.accounts:
            return self._error(400, 100, f"(#100) Object with ID '{node}' does not exist")
        if (failure := self._failure(f"{node}/messages")) is not None:
            return failure
        new_id = self.next_ids.pop(0) if self.next_ids else None
        if body.get("messaging_product") == "whatsapp":
            to = str(body.get("to") or "")
            kind = body.get("type")
            if not to or kind not in body:
                return self._error(400, 100, "(#100) Invalid parameter")
            if kind == "interactive" and (problem := _interactive_problem(body[kind])):
                return self._error(
                    400, 131009, f"(#131009) Parameter value is not valid: {problem}"
                )
            if to in self.window_closed and kind != "template":
                return self._error(
                    400,
                    REENGAGEMENT,
                    "(#131047) Re-engagement message: more than 24 hours have passed "
                    "since the recipient last replied.",
                )
            wamid = new_id or f"wamid.FAKE{next(self._ids):06d}"
            return web.json_response(
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": to, "wa_id": to}],
                    "messages": [{"id": wamid}],
                }
            )
        recipient = (body.get("recipient") or {}).get("id")
        if not recipient or not body.get("message"):
            return self._error(400, 100, "(#100) param recipient must be non-empty.")
        if (problem := _quick_replies_problem(body["message"])) is not None:
            return self._error(400, 100, f"(#100) {problem}")
        mid = new_id or f"m_FAKE{next(self._ids):06d}"
        return web.json_response({"recipient_id": recipient, "message_id": mid})


def _interactive_problem(inter: Any) -> str | None:
    """What the Cloud API refuses in an interactive message: 1-3 reply buttons (title <= 20,
    id <= 256), or a list of 1-10 rows (title <= 24, id <= 200) behind a button <= 20;
    a body of 1-1024 characters."""
    body = ((inter or {}).get("body") or {}).get("text") or ""
    action = (inter or {}).get("action") or {}
    if not 1 <= len(body) <= 1024:
        return "body text must be 1-1024 characters"
    if inter.get("type") == "button":
        buttons = action.get("buttons") or []
        if not 1 <= len(buttons) <= 3:
            return "buttons must have 1-3 items"
        for b in buttons:
            reply = b.get("reply") or {}
            if (
                not 1 <= len(reply.get("title") or "") <= 20
                or not 1 <= len(reply.get("id") or "") <= 256
            ):
                return "button title (1-20) or id (1-256) out of range"
        return None
    if inter.get("type") == "list":
        rows = [r for sec in action.get("sections") or [] for r in sec.get("rows") or []]
        if not 1 <= len(action.get("button") or "") <= 20:
            return "list button must be 1-20 characters"
        if not 1 <= len(rows) <= 10:
            return "a list has 1-10 rows"
        for r in rows:
            if not 1 <= len(r.get("title") or "") <= 24 or not 1 <= len(r.get("id") or "") <= 200:
                return "row title (1-24) or id (1-200) out of range"
        return None
    return f"unsupported interactive type {inter.get('type')!r}"


def _quick_replies_problem(message: Any) -> str | None:
    """Messenger and Instagram take up to 13 quick replies: title <= 20, payload <= 1000."""
    replies = message.get("quick_replies") if isinstance(message, dict) else None
    if replies is None:
        return None
    if not 1 <= len(replies) <= 13:
        return "quick_replies must have 1-13 items"
    for q in replies:
        if q.get("content_type") != "text" or not 1 <= len(q.get("title") or "") <= 20:
            return "a text quick reply needs a title of 1-20 characters"
        if not 1 <= len(q.get("payload") or "") <= 1000:
            return "quick reply payload must be 1-1000 characters"
    return None


async def _multipart(
    request: web.Request,
) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    form: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            continue
        data = await part.read()
        if part.filename:
            ctype = part.headers.get("Content-Type", "application/octet-stream")
            files[part.name] = (part.filename, ctype, bytes(data))
        else:
            form[part.name] = bytes(data).decode()
    return form, files
