from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from hub.connector import ConnectorConfig

# An origin as browsers send it: scheme, host, optional port; no path, no trailing slash.
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$|^https?://\[[0-9a-f:.]+\](:\d{1,5})?$")


class WebChatConfig(ConnectorConfig):
    type: Literal["webchat"]
    title: str = Field(default="Chat with us", min_length=1, max_length=100)
    # Pages on these origins may open the chat socket; the hub's own origin always may.
    allowed_origins: tuple[str, ...] = ()
    max_message_chars: int = Field(default=4000, ge=100, le=100_000)
    history_limit: int = Field(default=50, ge=1, le=200)
    # Token buckets: a sustained rate a minute and a burst on top, per visitor and per IP
    # (an IP is shared by an office or a carrier's NAT, hence the higher default).
    visitor_messages_per_minute: float = Field(default=20.0, gt=0)
    visitor_burst: int = Field(default=10, ge=1)
    ip_messages_per_minute: float = Field(default=120.0, gt=0)
    ip_burst: int = Field(default=60, ge=1)
    ip_connections_per_minute: float = Field(default=60.0, gt=0)
    ip_connection_burst: int = Field(default=30, ge=1)
    max_sockets_per_visitor: int = Field(default=10, ge=1, le=1000)
    max_sockets_per_ip: int = Field(default=200, ge=1)
    max_sockets: int = Field(default=10_000, ge=1)
    # A new visitor's first connect sends a /start command (with the browser's language),
    # so the hub can greet them.
    send_start: bool = True

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, v: object) -> object:
        if not isinstance(v, list | tuple):
            return v
        out = []
        for item in v:
            if not isinstance(item, str):
                raise ValueError("each origin must be a string such as 'https://shop.example'")
            origin = item.strip().rstrip("/").lower()
            if not _ORIGIN.match(origin):
                raise ValueError(
                    f"{item!r} is not an origin: scheme://host[:port], no path "
                    "(e.g. 'https://shop.example')"
                )
            out.append(origin)
        return tuple(out)
