"""A loopback fake of Telegram's Bot API, written from https://core.telegram.org/bots/api.

It speaks the documented HTTP contract: `POST /bot<token>/<method>` with form, multipart
or JSON parameters, answers `{"ok": true, "result": ...}` or `{"ok": false, "error_code",
"description", "parameters"}`, serves files under `/file/bot<token>/<file_path>`, keeps
getUpdates' offset confirmation, and acts as Telegram towards a webhook (POSTing updates
with the secret-token header). It records every call so tests can assert what it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

# The Bot API serves files up to this size through getFile.
GETFILE_LIMIT = 20 * 1024 * 1024


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    # Uploaded files by field name: (filename, content).
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    # The message_id of the message the call sent, if it sent one.
    result_id: int = 0


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None


class FakeBotApi:
    def __init__(self, token: str, username: str = "ChrispressoBot") -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.username = username
        self.calls: list[Call] = []
        # file_id -> (file_path, content)
        self.files: dict[str, tuple[str, bytes]] = {}
        self.webhook: dict[str, Any] | None = None
        # Chats whose user blocked the bot: every send there answers 403.
        self.blocked_chats: set[str] = set()
        self._pending: list[dict[str, Any]] = []
        self._new_updates = asyncio.Condition()
        self._failures: dict[str, list[Failure]] = {}
        self._next_message_id = 1000
        # message_id -> the message as sent (with its reply_markup), for presses.
        self.sent_messages: dict[int, dict[str, Any]] = {}
        self._queries = 0
        # callback_query ids answered with answerCallbackQuery.
        self.answered: set[str] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- control from tests ---------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_file(self, file_id: str, file_path: str, content: bytes) -> None:
        self.files[file_id] = (file_path, content)

    def fail_next(
        self, method: str, status: int, description: str, retry_after: int | None = None
    ) -> None:
        """The next call of `method` gets this error instead of its answer."""
        self._failures.setdefault(method, []).append(Failure(status, description, retry_after))

    def press(self, sent: Call, data: str, user: dict[str, Any], update_id: int) -> dict[str, Any]:
        """The callback_query update Telegram sends when `user` presses the inline button
        with callback_data `data` under the message `sent` (a sendMessage call)."""
        self._queries += 1
        message = self.sent_messages[sent.result_id]
        return {
            "update_id": update_id,
            "callback_query": {
                "id": f"{self.bot_id}{self._queries:06d}",
                "from": {"is_bot": False, **user},
                "message": message,
                "chat_instance": f"-{self.bot_id}",
                "data": data,
            },
        }

    async def push_updates(self, updates: Iterable[dict[str, Any]]) -> None:
        """Queue updates for getUpdates, as Telegram does while no webhook is set."""
        async with self._new_updates:
            self._pending.extend(updates)
            self._new_updates.notify_all()

    async def deliver_webhook(self, update: dict[str, Any], secret: str | None = None) -> int:
        """POST one update to the registered webhook as Telegram would; the HTTP status."""
        assert self.webhook is not None, "no webhook is set"
        headers = {"Content-Type": "application/json"}
        token = self.webhook.get("secret_token") if secret is None else secret
        if token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.webhook["url"], data=json.dumps(update), headers=headers) as resp,
        ):
            await resp.read()
            return resp.status

    def sent(self, method: str = "sendMessage") -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 20.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while len(self.sent(method)) < count:
            if time.monotonic() > deadline:
                got = [c.method for c in self.calls]
                raise AssertionError(f"expected {count} {method} calls; calls so far: {got}")
            await asyncio.sleep(0.02)
        return self.sent(method)

    # -- server ---------------------------------------------------------------------

    async def start(self) -> FakeBotApi:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        # A long poll still open at shutdown must not hold the test up.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        async with self._new_updates:
            self._new_updates.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(Failure(401, "Unauthorized"))
        method = request.match_info["method"]
        params, files = await _read_params(request)
        self.calls.append(Call(method, params, files))
        queued = self._failures.get(method)
        if queued:
            return _error(queued.pop(0))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(Failure(404, "Not Found"))
        result = await handler(params, files)
        if isinstance(result, Failure):
            return _error(result)
        if isinstance(result, dict) and "message_id" in result:
            self.calls[-1].result_id = result["message_id"]
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(Failure(401, "Unauthorized"))
        path = request.match_info["path"]
        self.calls.append(Call("download", {"file_path": path}))
        for file_path, content in self.files.values():
            if file_path == path:
                return web.Response(body=content, content_type="application/octet-stream")
        return _error(Failure(404, "Not Found"))

    # -- methods --------------------------------------------------------------------

    def _me(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Chrispresso Customer Service",
            "username": self.username,
        }

    async def _m_getMe(self, params: dict[str, Any], files: Any) -> Any:
        return {
            **self._me(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_setWebhook(self, params: dict[str, Any], files: Any) -> Any:
        url = str(params.get("url") or "")
        if not url:
            return await self._m_deleteWebhook(params, files)
        secret = params.get("secret_token")
        self.webhook = {"url": url, "secret_token": secret, **params}
        return True

    async def _m_deleteWebhook(self, params: dict[str, Any], files: Any) -> Any:
        self.webhook = None
        if _truthy(params.get("drop_pending_updates")):
            self._pending.clear()
        return True

    async def _m_getUpdates(self, params: dict[str, Any], files: Any) -> Any:
        if self.webhook is not None:
            return Failure(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int(params.get("offset"))
        limit = max(1, min(100, _int(params.get("limit")) or 100))
        timeout = max(0, _int(params.get("timeout")) or 0)
        async with self._new_updates:
            if offset is not None:
                # Asking from `offset` confirms every update before it: they are forgotten.
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
            if not self._pending and timeout:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._new_updates.wait()
            return list(self._pending[:limit])

    async def _m_getFile(self, params: dict[str, Any], files: Any) -> Any:
        file_id = str(params.get("file_id") or "")
        if file_id not in self.files:
            return Failure(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        if len(content) > GETFILE_LIMIT:
            return Failure(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(content),
            "file_path": path,
        }

    async def _m_sendMessage(self, params: dict[str, Any], files: Any) -> Any:
        text = str(params.get("text") or "")
        if not text.strip():
            return Failure(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return Failure(400, "Bad Request: message is too long")
        return self._message(params, text=text)

    async def _m_answerCallbackQuery(self, params: dict[str, Any], files: Any) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if not query_id.startswith(str(self.bot_id)) or len(str(params.get("text", ""))) > 200:
            return Failure(400, "Bad Request: query is too old and response timeout expired")
        self.answered.add(query_id)
        return True

    async def _m_sendPhoto(self, params: dict[str, Any], files: Any) -> Any:
        if "photo" not in files and not params.get("photo"):
            return Failure(400, "Bad Request: there is no photo in the request")
        return self._message(params, photo=[{"file_id": "p", "file_unique_id": "p", **_wh()}])

    async def _m_sendDocument(self, params: dict[str, Any], files: Any) -> Any:
        if "document" not in files and not params.get("document"):
            return Failure(400, "Bad Request: there is no document in the request")
        name = files["document"][0] if "document" in files else "file"
        return self._message(
            params, document={"file_id": "d", "file_unique_id": "d", "file_name": name}
        )

    def _message(self, params: dict[str, Any], **content: Any) -> Any:
        chat_id = str(params.get("chat_id") or "")
        if not chat_id:
            return Failure(400, "Bad Request: chat_id is empty")
        if chat_id in self.blocked_chats:
            return Failure(403, "Forbidden: bot was blocked by the user")
        markup = params.get("reply_markup")
        if markup is not None and (problem := _keyboard_problem(markup)):
            return Failure(400, f"Bad Request: {problem}")
        self._next_message_id += 1
        chat: dict[str, Any] = {"id": _int(chat_id) or 0, "type": "private"}
        message = {
            "message_id": self._next_message_id,
            "from": self._me(),
            "chat": chat,
            "date": int(time.time()),
            **content,
            **({"reply_markup": markup} if markup is not None else {}),
        }
        self.sent_messages[self._next_message_id] = message
        return message


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parameters as the Bot API takes them: query string, JSON, urlencoded or multipart."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, tuple[str, bytes]] = {}
    if request.content_type == "application/json":
        params.update(await request.json())
    elif request.content_type == "multipart/form-data":
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                continue
            if part.filename:
                files[part.name] = (part.filename, bytes(await part.read()))
            else:
                params[part.name] = await part.text()
    elif request.can_read_body:
        params.update(await request.post())
    # In forms, numbers, arrays and booleans arrive JSON-encoded; text stays text.
    return {k: _decode(v) if k in _JSON_PARAMS else v for k, v in params.items()}, files


_JSON_PARAMS = frozenset(
    {
        "offset",
        "limit",
        "timeout",
        "allowed_updates",
        "drop_pending_updates",
        "max_connections",
        "reply_markup",
    }
)


def _keyboard_problem(markup: Any) -> str | None:
    """What Telegram would refuse in an inline keyboard: callback_data is 1-64 bytes."""
    if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
        return "can't parse reply keyboard markup JSON object"
    for row in markup["inline_keyboard"]:
        for button in row:
            data = button.get("callback_data")
            if not button.get("text"):
                return "BUTTON_TEXT_EMPTY"
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                return "BUTTON_DATA_INVALID"
    return None


def _decode(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _error(failure: Failure) -> web.Response:
    body: dict[str, Any] = {
        "ok": False,
        "error_code": failure.status,
        "description": failure.description,
    }
    if failure.retry_after is not None:
        body["parameters"] = {"retry_after": failure.retry_after}
    return web.json_response(body, status=failure.status)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _wh() -> dict[str, int]:
    return {"width": 1, "height": 1}
