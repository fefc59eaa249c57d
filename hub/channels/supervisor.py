"""One supervisor per connector: start it, retry while not ready, disable on auth errors.

A failing connector never stops the others: every failure is caught here.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime

from hub.connector import Connector, ConnectorAuthError
from hub.core.periodic import backoff_delay
from hub.store import utcnow

log = logging.getLogger("hub.channels.supervisor")

STARTING, RUNNING, RETRYING, DISABLED, STOPPED = (
    "starting",
    "running",
    "retrying",
    "disabled",
    "stopped",
)


@dataclass
class ConnectorStatus:
    state: str = STARTING
    last_error: str | None = None
    since: datetime | None = None
    attempts: int = 0


class Supervisor:
    def __init__(
        self,
        connector_id: str,
        connector: Connector,
        *,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
    ) -> None:
        self.connector_id = connector_id
        self.connector = connector
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.status = ConnectorStatus(since=utcnow())
        self._trouble = asyncio.Event()
        self._rng = random.Random()

    @property
    def ready(self) -> bool:
        return self.status.state == RUNNING

    def report(self, exc: Exception | None) -> None:
        """Called by the connector (or the outbox) when something breaks after start()."""
        if exc is None:
            if self.status.state == RETRYING:
                self._set(RUNNING, None)
            return
        if isinstance(exc, ConnectorAuthError):
            if self.status.state != DISABLED:
                # Needs a person: new credentials, then a restart.
                log.error("connector disabled id=%s reason=auth error=%s", self.connector_id, exc)
            self._set(DISABLED, f"authentication failed: {exc}")
        elif self.status.state == RUNNING:
            self._set(RETRYING, f"{exc.__class__.__name__}: {exc}")
        self._trouble.set()

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.connector.start()
                except ConnectorAuthError as exc:
                    self._set(DISABLED, f"authentication failed: {exc}")
                    log.error("connector disabled id=%s reason=auth", self.connector_id)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.status.attempts += 1
                    # Bounded at any count: a connector down for days must not overflow.
                    delay = backoff_delay(
                        self.status.attempts, self.base_delay, self.max_delay, self._rng
                    )
                    self._set(RETRYING, f"{exc.__class__.__name__}: {exc}")
                    log.warning(
                        "connector not ready id=%s retry_in=%.1fs error=%s",
                        self.connector_id,
                        delay,
                        exc.__class__.__name__,
                    )
                    await asyncio.sleep(delay)
                    continue
                self.status.attempts = 0
                self._set(RUNNING, None)
                await self._trouble.wait()
                self._trouble.clear()
                if self.status.state == DISABLED:
                    await _quietly(self.connector.stop())
                    return
                if self.status.state == RETRYING:
                    # The connector reported it lost its channel: restart it.
                    await _quietly(self.connector.stop())
        finally:
            if self.status.state != DISABLED:
                self._set(STOPPED, self.status.last_error)

    def _set(self, state: str, error: str | None) -> None:
        if state != self.status.state or error != self.status.last_error:
            self.status.state = state
            self.status.last_error = error
            self.status.since = utcnow()


async def _quietly(coro: object) -> None:
    try:
        await coro  # type: ignore[misc]
    except Exception:
        log.exception("connector stop failed")
