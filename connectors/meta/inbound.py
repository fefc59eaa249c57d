"""What a webhook delivery becomes: messages for the pipeline (with the media still to
fetch), and events on messages already on record."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.messages import InboundMessage, MessageEvent


class BadDelivery(ValueError):
    """The body is JSON but not a webhook delivery of this product."""


@dataclass(frozen=True)
class MediaRef:
    filename: str
    content_type: str
    # WhatsApp: a Graph media id to look up; Messenger and Instagram: a signed CDN URL.
    media_id: str | None = None
    url: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Incoming:
    message: InboundMessage
    media: tuple[MediaRef, ...] = ()


@dataclass
class Parsed:
    messages: list[Incoming] = field(default_factory=list)
    events: list[MessageEvent] = field(default_factory=list)
    # What was read and deliberately left alone, for the log.
    skipped: list[str] = field(default_factory=list)


def from_unix(raw: Any) -> datetime | None:
    """Graph timestamps: seconds as a string (WhatsApp) or milliseconds (Messenger)."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    if value > 1e11:
        value /= 1000
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def media_filename(kind: str, ident: str, content_type: str, given: str | None = None) -> str:
    if given:
        return given[:300]
    ext = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
    safe = "".join(c for c in ident if c.isalnum())[:40] or "file"
    return f"{kind}-{safe}{ext}"


def as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def as_dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}
