"""The secrets a survey is answered with: the link's random token (kept only as its
sha256) and the signed payloads of its buttons. Pure: data in, data out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

RATINGS = (1, 2, 3, 4, 5)
# Payloads the surveys own; other choices are not ours to read.
PREFIX = "csat."
# 12 bytes of HMAC-SHA256: 96 bits, far beyond guessing, and the whole payload stays
# under Telegram's 64-byte callback_data for any survey id.
_MAC_BYTES = 12
_PAYLOAD = re.compile(r"^csat\.([0-9]{1,18})\.([1-5])\.([A-Za-z0-9_-]{16})$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")
MAX_PAYLOAD_BYTES = 64


def new_token() -> str:
    """A random 128-bit token for the survey's link."""
    return secrets.token_urlsafe(16)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def well_formed(token: str) -> bool:
    return bool(_TOKEN.match(token))


def _mac(secret: bytes, survey_id: int, rating: int) -> str:
    digest = hmac.new(secret, f"csat:{survey_id}:{rating}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).decode()


def choice_payload(secret: bytes, survey_id: int, rating: int) -> str:
    """The signed payload of the button that gives `rating` to survey `survey_id`."""
    payload = f"{PREFIX}{survey_id}.{rating}.{_mac(secret, survey_id, rating)}"
    assert len(payload) <= MAX_PAYLOAD_BYTES
    return payload


@dataclass(frozen=True)
class ButtonAnswer:
    survey_id: int
    rating: int


def is_survey_choice(payload: str | None) -> bool:
    return payload is not None and payload.startswith(PREFIX)


def read_choice(secret: bytes, payload: str) -> ButtonAnswer | None:
    """The survey and rating a pressed button stands for; None when it was not signed by
    us (forged, or from before a key change)."""
    m = _PAYLOAD.match(payload)
    if m is None:
        return None
    survey_id, rating = int(m.group(1)), int(m.group(2))
    if not hmac.compare_digest(m.group(3), _mac(secret, survey_id, rating)):
        return None
    return ButtonAnswer(survey_id, rating)
