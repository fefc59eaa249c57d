"""Standard Webhooks signing: the body, its headers and the v1 HMAC-SHA256 signatures.

Pure functions over bytes: the dispatcher sends what these return, and receivers check
it with any Standard Webhooks library (docs/integrations.md shows one)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from hub.config.webhooks import SECRET_PREFIX, secret_key


def new_secret() -> str:
    """A fresh `whsec_<base64>` secret (32 random bytes), as Standard Webhooks writes them."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def event_body(event_type: str, created_at: datetime, data: Mapping[str, Any]) -> bytes:
    """The JSON body: the same bytes on every attempt, so a receiver can compare them."""
    payload = {"type": event_type, "timestamp": created_at.isoformat(), "data": dict(data)}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(
    keys: Sequence[bytes], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three headers; with two keys (a rotation) two space-separated signatures."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(k, msg_id, timestamp, body) for k in keys),
        "content-type": "application/json",
    }


def signing_keys(secret: str, previous: str | None) -> tuple[bytes, ...]:
    keys = [secret_key(secret)]
    if previous:
        keys.append(secret_key(previous))
    return tuple(keys)
