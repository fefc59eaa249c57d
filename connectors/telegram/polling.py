"""Long-polling getUpdates, acknowledging an update only after the hub committed it.

getUpdates confirms everything before the offset it is given, so the offset moves past
an update only once `ingest` returned, and is checkpointed in the hub's storage so
another process (or this one after a restart) goes on from there.
"""

from __future__ import annotations

import asyncio
import json
import random
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from telegram.error import Conflict, InvalidToken
from telegram.warnings import PTBUserWarning

from connectors.telegram.botapi import BotLink
from connectors.telegram.errors import token_refused
from connectors.telegram.settings import TelegramConfig
from hub.connector import ConnectorNotReady, HubContext, backoff_delay

# We call getUpdates through do_api_request to get raw JSON (see updates.py); PTB warns
# that a typed method exists, which is the point.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)

ALLOWED_UPDATES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    # Presses of the inline buttons our messages carry (connectors.telegram.callbacks).
    "callback_query",
)
OFFSET_KEY = "poll_offset"
# After a week without updates Telegram may restart update ids at random, so an old
# offset could skip new updates. Telegram itself still holds what we never confirmed.
OFFSET_MAX_AGE = timedelta(days=6)
# Consecutive failures tolerated quietly before the supervisor hears of it.
QUIET_FAILURES = 3
MAX_BACKOFF = 60.0

T = TypeVar("T")


class Poller:
    def __init__(
        self,
        link: BotLink,
        config: TelegramConfig,
        ctx: HubContext,
        ingest: Callable[[bytes], Awaitable[str]],
        failures: int = 0,
    ) -> None:
        self.bot = link.bot
        self.config = config
        self.ctx = ctx
        self.ingest = ingest
        self.flood = link.flood
        self.redact = link.redact
        # Carried across restarts by the connector, so a supervisor restart does not
        # reset the backoff and a lasting failure cannot become a tight loop.
        self.failures = failures
        self._rng = random.Random()
        self._stopping = False
        # True only while waiting on Telegram or a timer: the safe moments to cancel. A
        # store write cut off half-way can leave a pooled connection unusable.
        self._idle = False

    def request_stop(self) -> bool:
        """Ask the loop to end after what it is doing; True if it may be cancelled now."""
        self._stopping = True
        return self._idle

    async def _idle_wait(self, aw: Awaitable[T]) -> T:
        self._idle = True
        try:
            return await aw
        finally:
            self._idle = False

    async def run(self) -> None:
        offset = await self._load_offset()
        timeout = self.config.polling_timeout_seconds
        lease_ttl = timeout + self.config.request_timeout_seconds + 10
        while not self._stopping:
            if self.failures:
                await self._idle_wait(asyncio.sleep(self._backoff()))
            try:
                # Telegram allows one getUpdates per bot at a time: one hub process polls.
                if not await self.ctx.storage.acquire_lease("poll", lease_ttl):
                    await self._idle_wait(asyncio.sleep(lease_ttl / 3))
                    continue
                if self._stopping:
                    return
                batch = await self._idle_wait(
                    self.flood.call(
                        self.bot.do_api_request(
                            "getUpdates",
                            api_kwargs={
                                "offset": offset,
                                "timeout": timeout,
                                "allowed_updates": list(ALLOWED_UPDATES),
                            },
                        )
                    )
                )
                for raw in batch if isinstance(batch, list) else []:
                    if self._stopping:
                        return
                    # As ASCII JSON: a lone surrogate is escaped here and refused by the
                    # guarded reader, not an encoding error that would stall the poll.
                    await self.ingest(json.dumps(raw).encode())
                    if isinstance(raw, dict) and isinstance(raw.get("update_id"), int):
                        offset = raw["update_id"] + 1
                        await self._save_offset(offset)
            except asyncio.CancelledError:
                raise
            except InvalidToken:
                self.ctx.report(token_refused())
                return
            except Exception as exc:
                # Network trouble, a 409 from a second poller, the store away: retry from
                # the same offset, so nothing is skipped and nothing committed is lost.
                self._failed(exc)
                continue
            if self.failures:
                self.failures = 0
                self.ctx.report(None)

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self.ctx.logger.warning(
            "telegram poll failed connector=%s attempt=%s error=%s",
            self.config.id,
            self.failures,
            exc.__class__.__name__,
        )
        if self.failures >= QUIET_FAILURES or isinstance(exc, Conflict):
            self.ctx.report(ConnectorNotReady(f"polling: {self.redact.describe(exc)}"))

    async def release(self) -> None:
        await self.ctx.storage.release_lease("poll")

    def _backoff(self) -> float:
        jittered = backoff_delay(self.failures, 0.5, MAX_BACKOFF, self._rng)
        return max(jittered, self.flood.quiet_left())

    async def _load_offset(self) -> int | None:
        saved = await self.ctx.storage.get(OFFSET_KEY)
        if not isinstance(saved, dict) or not isinstance(saved.get("offset"), int):
            return None
        try:
            at = datetime.fromisoformat(str(saved.get("at")))
        except ValueError:
            return None
        if datetime.now(UTC) - at > OFFSET_MAX_AGE:
            return None
        return int(saved["offset"])

    async def _save_offset(self, offset: int) -> None:
        now = datetime.now(UTC).isoformat()
        await self.ctx.storage.put(OFFSET_KEY, {"offset": offset, "at": now})
