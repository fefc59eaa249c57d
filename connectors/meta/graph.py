"""A small Graph API client on aiohttp, and how its errors map onto what the hub does.

Graph answers errors as `{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}`; the code, not the HTTP status, says what happened.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from hub.connector import (
    ConnectorAuthError,
    PermanentSendError,
    RecipientUnreachable,
    RetryLater,
)
from hub.messages import Address

# 190: the access token expired or was revoked; 102: the session is invalid.
AUTH_CODES = frozenset({102, 190})
# Throttling: app, user, page, WhatsApp account and pair rate limits, spam protection.
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80007, 130429, 131048, 131056})
# The recipient is not (or no longer) reachable: not on WhatsApp, not available now.
UNREACHABLE_CODES = frozenset({131026, 551})
# Free text after the 24-hour customer-service window (WhatsApp; Messenger's 10/2018278).
WINDOW_CODES = frozenset({131047})
THROTTLE_WAIT_SECONDS = 60.0


class GraphError(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        self.status = status
        self.code = as_int(error.get("code"))
        self.subcode = as_int(error.get("error_subcode"))
        self.type = str(error.get("type") or "")
        # Graph's message never contains the token; cap it anyway.
        self.text = str(error.get("message") or "unknown error")[:300]
        super().__init__(f"Graph error {self.code} (HTTP {status}): {self.text}")

    def for_send(self, to: Address) -> Exception:
        """The hub's exception for a send Graph refused."""
        if self.code in AUTH_CODES or (self.status == 401 and self.type == "OAuthException"):
            return ConnectorAuthError(f"Graph API refused the access token: {self.text}")
        if self.code in THROTTLE_CODES or self.status == 429:
            return RetryLater(THROTTLE_WAIT_SECONDS, f"Graph API rate limit ({self.code})")
        if self.code in WINDOW_CODES or (self.code == 10 and self.subcode == 2018278):
            return PermanentSendError(
                "outside the 24-hour customer-service window: only an approved template "
                f"can be sent now ({self.text})"
            )
        if self.code in UNREACHABLE_CODES:
            return RecipientUnreachable(f"Meta will not deliver to {to.value}: {self.text}", to)
        if self.status >= 500 or self.code in (1, 2):
            return self  # transient: the outbox retries with backoff
        return PermanentSendError(f"Graph API refused the message: {self}")

    @property
    def is_auth(self) -> bool:
        return self.code in AUTH_CODES or (self.status == 401 and self.type == "OAuthException")


class TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


class GraphClient:
    def __init__(self, base_url: str, version: str, token: str, timeout: float) -> None:
        self.base = f"{base_url}/{version}"
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def get(self, path: str, **params: str) -> dict[str, Any]:
        async with self.session.get(
            f"{self.base}/{path}", params=params, headers=self._auth()
        ) as resp:
            return await _answer(resp)

    async def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.session.post(
            f"{self.base}/{path}", json=body, headers=self._auth()
        ) as resp:
            return await _answer(resp)

    async def post_form(self, path: str, form: aiohttp.FormData) -> dict[str, Any]:
        async with self.session.post(
            f"{self.base}/{path}", data=form, headers=self._auth()
        ) as resp:
            return await _answer(resp)

    async def download(self, url: str, max_bytes: int, *, authorized: bool) -> bytes:
        """The file at `url`, reading no further than `max_bytes` (TooLarge past it).
        WhatsApp media URLs need the token; Messenger's CDN URLs are signed and must not
        be sent it."""
        headers = self._auth() if authorized else {}
        async with self.session.get(url, headers=headers) as resp:
            if resp.status >= 400:
                await _answer(resp)
            if resp.content_length is not None and resp.content_length > max_bytes:
                raise TooLarge(resp.content_length)
            data = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > max_bytes:
                    raise TooLarge(len(data))
            return bytes(data)


async def _answer(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    raw = await resp.read()
    try:
        body = json.loads(raw) if raw else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = {}
    if resp.status >= 400 or (isinstance(body, dict) and "error" in body):
        error = body.get("error") if isinstance(body, dict) else None
        raise GraphError(resp.status, error if isinstance(error, dict) else {})
    if not isinstance(body, dict):
        raise GraphError(resp.status, {"message": "the answer is not a JSON object"})
    return body


def as_int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None
