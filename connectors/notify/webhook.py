"""Posting JSON to an incoming webhook, and what its answer means for the outbox.

2xx: delivered. 429: wait as Retry-After says. 401, 403, 404, 410: the webhook itself is
revoked, its channel archived or the post forbidden, which no retry mends: the connector
is disabled (the message waits) until an operator fixes `webhook_url`. Other 4xx: this
message was refused (dead-lettered with the service's reason). 5xx, timeouts and network
errors: retried with backoff by the outbox.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp

from hub.connector import ConnectorAuthError, ConnectorNotReady, PermanentSendError, RetryLater

# The services answer with a short code ("ok", "invalid_payload"); more is not read.
MAX_ANSWER_BYTES = 4096
# Retry-After beyond this (or missing) is taken as this many seconds.
MAX_RETRY_AFTER = 3600.0
DEFAULT_RETRY_AFTER = 30.0
# Statuses that say the webhook, not this message, is the problem.
WEBHOOK_GONE = frozenset({401, 403, 404, 410})


class WebhookUnavailable(Exception):
    """The service could not take the post now (5xx, timeout, network): retry later."""


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
            # The exception's text may quote the URL, which is a secret: name its class only.
            raise WebhookUnavailable(f"{self.service}: {exc.__class__.__name__}") from None
        reason = _short(answer)
        if 200 <= status < 300:
            return status, answer, run_id
        if status == 429:
            raise RetryLater(_retry_after(retry_after), f"{self.service} rate limit")
        if status in WEBHOOK_GONE:
            raise ConnectorAuthError(
                f"{self.service} refused the webhook ({status} {reason}): it was revoked, its "
                "channel archived or posting forbidden; fix webhook_url"
            )
        if 400 <= status < 500:
            raise PermanentSendError(f"{self.service} refused the post ({status} {reason})")
        raise WebhookUnavailable(f"{self.service} answered {status} {reason}")


def _short(answer: str) -> str:
    return " ".join(answer.split())[:200]


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        seconds = DEFAULT_RETRY_AFTER
    return min(max(seconds, 1.0), MAX_RETRY_AFTER)
