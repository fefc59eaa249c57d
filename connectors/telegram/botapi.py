"""The Bot API client as we use it: built for our URLs and timeouts, flood control kept
per bot, and error text that never carries the token (it is part of every URL)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from telegram import Bot
from telegram.error import RetryAfter
from telegram.request import HTTPXRequest

from connectors.telegram.errors import flood_control, retry_after_seconds
from connectors.telegram.settings import TelegramConfig

T = TypeVar("T")


def make_bot(config: TelegramConfig) -> Bot:
    api, timeout = config.api_url, config.request_timeout_seconds

    def request(pool: int, read: float) -> HTTPXRequest:
        return HTTPXRequest(
            connection_pool_size=pool,
            connect_timeout=timeout,
            read_timeout=read,
            write_timeout=timeout,
            pool_timeout=timeout,
        )

    return Bot(
        config.bot_token.get_secret_value(),
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        request=request(8, timeout),
        # The long poll holds its connection open for polling_timeout_seconds.
        get_updates_request=request(1, timeout + config.polling_timeout_seconds),
    )


class FloodControl:
    """Telegram's 429 applies to the whole bot: remember until when to keep quiet."""

    def __init__(self) -> None:
        self._quiet_until = 0.0

    def quiet_left(self) -> float:
        return max(0.0, self._quiet_until - time.monotonic())

    async def call(self, call: Awaitable[T]) -> T:
        """Await one Bot API call; a 429 becomes RetryLater with Telegram's delay."""
        try:
            return await call
        except RetryAfter as exc:
            seconds = retry_after_seconds(exc)
            self._quiet_until = max(self._quiet_until, time.monotonic() + seconds)
            raise flood_control(seconds) from None


class RedactToken(logging.Filter):
    """Keeps the bot token out of log lines (httpx logs each request URL at INFO)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def clean(self, text: str) -> str:
        return text.replace(self.token, "<token>")

    def describe(self, exc: BaseException) -> str:
        return self.clean(f"{exc.__class__.__name__}: {exc}")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = self.clean(message), ()
        return True


@dataclass(frozen=True)
class BotLink:
    """A started bot with what every call through it needs."""

    bot: Bot
    flood: FloodControl
    redact: RedactToken
