from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from hub.connector import ConnectorConfig

# Telegram's token format: the bot's numeric id, a colon, then the secret part.
_TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{10,100}$")
# What setWebhook accepts as secret_token.
_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")


class TelegramConfig(ConnectorConfig):
    type: Literal["telegram"]
    bot_token: SecretStr
    mode: Literal["polling", "webhook"] = "polling"
    # Sent by Telegram in X-Telegram-Bot-Api-Secret-Token on every webhook call.
    webhook_secret_token: SecretStr | None = None
    # The Bot API server: Telegram's, a self-hosted telegram-bot-api, or a test fake.
    api_url: str = "https://api.telegram.org"
    # Long-polling wait per getUpdates call.
    polling_timeout_seconds: int = Field(default=30, ge=0, le=60)
    # Larger media are recorded as dropped with the reason, not downloaded. Telegram's
    # own Bot API serves at most 20 MB through getFile.
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=0, le=2 * 1024**3)
    # An update is a few KiB; a bigger webhook body is refused with 413.
    max_body_bytes: int = Field(default=1024 * 1024, ge=16 * 1024, le=64 * 1024 * 1024)
    # Connect/read timeout for Bot API calls other than the long poll.
    request_timeout_seconds: float = Field(default=20.0, gt=0, le=300)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, v: SecretStr) -> SecretStr:
        if not _TOKEN.match(v.get_secret_value()):
            raise ValueError("must look like '123456789:AA...' (the token @BotFather gave you)")
        return v

    @field_validator("webhook_secret_token")
    @classmethod
    def _secret_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not _SECRET.match(v.get_secret_value()):
            raise ValueError("must be 16-256 characters of A-Z, a-z, 0-9, '_' or '-'")
        return v

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", v):
            raise ValueError("must be an http(s) URL such as https://api.telegram.org")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Self:
        if self.mode == "webhook" and self.webhook_secret_token is None:
            raise ValueError("webhook mode needs webhook_secret_token, to refuse forged updates")
        return self

    @property
    def bot_id(self) -> str:
        """The bot's numeric id, known from the token without asking Telegram."""
        return self.bot_token.get_secret_value().split(":", 1)[0]
