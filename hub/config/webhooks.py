"""The `webhooks:` section: endpoints that hear of the hub's events, signed per Standard
Webhooks (hub.webhooks). Each entry names its URL, the events it wants and its secret."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# Kept here (not imported from hub.events) so loading the YAML imports no domain code;
# tests/test_webhooks_units.py checks the two lists agree.
EVENT_NAMES = (
    "customer.created",
    "customer.updated",
    "customer.merged",
    "customer.erased",
    "ticket.created",
    "ticket.assigned",
    "ticket.status_changed",
    "message.received",
    "message.sent",
    "sla.warning",
    "sla.breached",
    "csat.answered",
)
ENDPOINT_ID = r"^[a-z0-9][a-z0-9_-]{0,39}$"
SECRET_PREFIX = "whsec_"
MAX_URL = 2000


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret; ValueError naming what is wrong."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret is 'whsec_' followed by base64 (Standard Webhooks)")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the part after 'whsec_' is not valid base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError(f"the secret's key must be 24 to 64 bytes (this one has {len(key)})")
    return key


def check_url(url: str) -> str:
    """An http(s) URL with a host and no credentials in it; ValueError otherwise."""
    if len(url) > MAX_URL:
        raise ValueError(f"at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold credentials (the secret signs each delivery)")
    if port == 0:
        raise ValueError("port 0 cannot be connected to")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError("must not contain spaces or control characters")
    return url


def check_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e != "*" and e not in EVENT_NAMES]
    if unknown:
        raise ValueError(f"unknown events {unknown} (known: *, {', '.join(EVENT_NAMES)})")
    if not events:
        raise ValueError('list at least one event, or "*" for all')
    return events


class EndpointSettings(BaseModel):
    """What an endpoint is, wherever it is defined: the YAML (with its secret) or the API
    (the hub makes the secret)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ENDPOINT_ID)
    url: str
    # Event types, or "*" for every one.
    events: list[str] = Field(default_factory=lambda: ["*"], max_length=len(EVENT_NAMES) + 1)
    # True lets the URL resolve to loopback, private or link-local addresses (tests, LAN).
    allow_private: bool = False
    # Consecutive failed attempts (any event) after which the endpoint is disabled.
    max_failures: int = Field(default=20, ge=1, le=10_000)
    # Attempts at one event before it is given up (status failed, kept in the log).
    max_attempts: int = Field(default=12, ge=1, le=100)
    # Seconds one POST may take, connecting included.
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_url(v)

    @field_validator("events")
    @classmethod
    def _events(cls, v: list[str]) -> list[str]:
        return check_events(v)


class WebhookEndpointConfig(EndpointSettings):
    # whsec_<base64>, usually ${WEBHOOK_SECRET}; signs every delivery.
    secret: SecretStr
    # During a rotation: the old secret, so each delivery carries both signatures.
    previous_secret: SecretStr | None = None

    @field_validator("secret", "previous_secret", mode="before")
    @classmethod
    def _text(cls, v: object) -> object:
        # A value error, not pydantic's type error: the loader never echoes the value.
        if v is not None and not isinstance(v, str | SecretStr):
            raise ValueError("must be text: 'whsec_' followed by base64")
        return v

    @field_validator("secret", "previous_secret")
    @classmethod
    def _secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            secret_key(v.get_secret_value())
        return v


WebhooksConfig = list[WebhookEndpointConfig]


def webhooks_cross_checks(webhooks: Sequence[Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Problems as (key path, message): an endpoint id used twice."""
    seen: set[str] = set()
    issues: list[tuple[tuple[Any, ...], str]] = []
    for i, endpoint in enumerate(webhooks):
        if endpoint.id in seen:
            issues.append((("webhooks", i, "id"), f"duplicate webhook id {endpoint.id!r}"))
        seen.add(endpoint.id)
    return issues
