from __future__ import annotations

from typing import Literal

from pydantic import Field

from hub.connector import ConnectorConfig


class WebFormConfig(ConnectorConfig):
    type: Literal["webform"]
    title: str = "Contact us"
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=10 * 1024 * 1024)
    max_message_chars: int = Field(default=10_000, ge=100, le=1_000_000)
    # Per client IP: a sustained rate and a burst on top of it.
    posts_per_minute: float = Field(default=6.0, gt=0)
    burst: int = Field(default=5, ge=1)
    honeypot_field: str = "website"
