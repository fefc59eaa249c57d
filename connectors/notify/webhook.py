"""Posting JSON to an incoming webhook; errors.py says what its answer means."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp

from connectors.notify.errors import refusal, unreachable
from hub.connector import ConnectorNotReady

# The services answer with a short code ("ok", "invalid_payload"); more is not read.
MAX_ANSWER_BYTES = 4096


class WebhookPoster:
    def __init__(self, service: str, url: str, timeout: float, log: logging.Logger) -> None:
        self.service = service
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._log = log
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def post(self, payload: dict[str, Any]) -> tuple[int, str, str | None]:
        """Post; returns (status, the answer's first bytes, a run id header if any) for a
        2xx answer and raises the outcome the outbox understands for any other."""
        if self._session is None:
            raise ConnectorNotReady(f"the {self.service} connector is not started")
        body = json.dumps(payload, ensure_ascii=False).encode()
        try:
            async with self._session.post(
                self._url, data=body, headers={"Content-Type": "application/json"}
            ) as resp:
                answer = (await resp.content.read(MAX_ANSWER_BYTES)).decode("utf-8", "replace")
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
                run_id = resp.headers.get("x-ms-workflow-run-id")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise unreachable(self.service, exc) from None
        if 200 <= status < 300:
            return status, answer, run_id
        raise refusal(self.service, status, _short(answer), retry_after)


def _short(answer: str) -> str:
    return " ".join(answer.split())[:200]
