"""Salesforce's REST API as one authorised session: a bearer token refreshed when it
expires (401 INVALID_SESSION_ID -> refresh -> retry once), the org's daily API use read
from every answer's Sforce-Limit-Info header and respected, errors mapped once."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from connectors.salesforce.errors import SESSION_EXPIRED, error_code, refusal, unreachable
from connectors.salesforce.settings import SalesforceConfig
from hub.connector import CrmAuthError, CrmContext, CrmRateLimited, CrmUnavailable, read_json

LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
# A query page of 2,000 Contacts is far below this; an answer past it is not read.
MAX_ANSWER_BYTES = 32 * 1024 * 1024


def read_answer(raw: bytes) -> Any:
    """An answer's JSON through the hub's guarded reader (None when empty)."""
    if len(raw) > MAX_ANSWER_BYTES:
        raise CrmUnavailable(f"salesforce: an answer over {MAX_ANSWER_BYTES} bytes")
    return read_json(raw) if raw.strip() else None


class SalesforceSession:
    def __init__(self, config: SalesforceConfig, ctx: CrmContext) -> None:
        self.config = config
        self.ctx = ctx
        self.instance_url = config.instance_url
        self._token: str | None = None
        self._http: aiohttp.ClientSession | None = None
        # monotonic time before which no call is made (the org's API budget is spent).
        self._hold_until = 0.0
        self.refreshes = 0

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds)
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def base(self) -> str:
        return f"/services/data/{self.config.api_version}"

    async def refresh(self) -> None:
        c = self.config
        form = {
            "grant_type": "refresh_token",
            "client_id": c.client_id,
            "client_secret": c.client_secret.get_secret_value(),
            "refresh_token": c.refresh_token.get_secret_value(),
        }
        try:
            async with self._client().post(
                f"{c.login_url}/services/oauth2/token", data=form
            ) as resp:
                status = resp.status
                body = read_answer(await resp.content.read(MAX_ANSWER_BYTES + 1))
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            raise unreachable(exc) from None
        if status >= 500:
            raise CrmUnavailable(f"salesforce token endpoint answered {status}")
        if status != 200 or not isinstance(body, dict) or "access_token" not in body:
            error = body.get("error", "") if isinstance(body, dict) else ""
            raise CrmAuthError(f"salesforce refused the refresh token ({status} {error})")
        self._token = str(body["access_token"])
        self.instance_url = str(body.get("instance_url") or self.instance_url).rstrip("/")
        self.refreshes += 1

    async def call(
        self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = ()
    ) -> tuple[int, Any]:
        """One request (path under the instance); the status and the parsed answer. A
        status in `ok` (300, 404) is returned instead of raised."""
        wait = self._hold_until - self.ctx.monotonic()
        if wait > 0:
            raise CrmRateLimited(wait, "salesforce API budget for today spent")
        if self._token is None:
            await self.refresh()
        for first in (True, False):
            status, data, headers = await self._send(method, path, body)
            if status == 401 and first and error_code(data) == SESSION_EXPIRED:
                await self.refresh()
                continue
            break
        self._note_usage(headers.get("Sforce-Limit-Info", ""))
        if status >= 300 and status not in ok:
            raise refusal(status, data, self.config.limit_wait_seconds)
        return status, data

    async def _send(self, method: str, path: str, body: Any) -> tuple[int, Any, Any]:
        try:
            async with self._client().request(
                method,
                self.instance_url + path,
                json=body,
                headers={"Authorization": f"Bearer {self._token}"},
            ) as resp:
                data = read_answer(await resp.content.read(MAX_ANSWER_BYTES + 1))
                return resp.status, data, resp.headers
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            raise unreachable(exc) from None

    def _note_usage(self, info: str) -> None:
        found = LIMIT_INFO.search(info)
        if found is None:
            return
        used, limit = int(found.group(1)), int(found.group(2))
        if limit and used >= limit * self.config.max_api_share:
            self._hold_until = self.ctx.monotonic() + self.config.limit_wait_seconds
