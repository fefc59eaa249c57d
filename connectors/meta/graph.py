"""A small Graph API client on aiohttp; errors.py says what its errors mean to the hub."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from connectors.meta.errors import GraphError


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
