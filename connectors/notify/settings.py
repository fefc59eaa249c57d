"""Settings of the notification connectors: an incoming-webhook URL, which is a secret."""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from hub.connector import ConnectorConfig


class WebhookConfig(ConnectorConfig):
    # The URL itself is the credential (Slack's path, the Workflows `sig`): give it as
    # ${ENV}; it is never logged.
    webhook_url: SecretStr
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Slack allows about one post a second per webhook; batching keeps us well below.
    rate_limit_per_minute: float | None = Field(default=30, gt=0)

    @field_validator("webhook_url")
    @classmethod
    def _https(cls, v: SecretStr) -> SecretStr:
        problem = url_problem(v.get_secret_value())
        if problem:
            raise ValueError(problem)
        return v


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook (without quoting it), or None. Plain http only to this
    machine (a local relay, a test receiver): the URL is a secret on the wire."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return "must be the webhook's https:// URL"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and _loopback(host):
        return None
    return "must be the webhook's https:// URL (http only to 127.0.0.1 or localhost)"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SlackConfig(WebhookConfig):
    type: Literal["slack"]


class TeamsConfig(WebhookConfig):
    type: Literal["teams"]
    # "adaptive": a Workflows (Power Automate) webhook taking an Adaptive Card message;
    # "messagecard": a legacy Office 365 connector webhook.
    format: Literal["adaptive", "messagecard"] = "adaptive"
