"""Visitor ids and their signed tokens, and the browser's language as a hub locale. Pure.

A visitor id is opaque and random; the token the widget keeps is `<id>.<mac>`, the mac an
HMAC-SHA256 of the id under the hub's signing key. The widget's script must read the token
to present it, so it cannot be an HttpOnly cookie: a script injected into the embedding page
could steal it and read that visitor's conversation. What the signature guarantees is that
no one can make up a token, or change theirs into someone else's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

VISITOR_ID = re.compile(r"^v[A-Za-z0-9_-]{22}$")
# The mac binds the id to this use and this connector, so a value the same key signs for
# another purpose (an opt-out link) is never a valid visitor token.
_PURPOSE = b"hub.webchat.visitor\x00"


def new_visitor_id() -> str:
    return "v" + secrets.token_urlsafe(16)[:22]


def _mac(key: bytes, connector_id: str, visitor_id: str) -> str:
    digest = hmac.new(
        key, _PURPOSE + f"{connector_id}\x00{visitor_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_visitor(key: bytes, connector_id: str, visitor_id: str) -> str:
    if not key:
        raise ValueError("no signing key")
    return f"{visitor_id}.{_mac(key, connector_id, visitor_id)}"


def verify_token(key: bytes, connector_id: str, token: object) -> str | None:
    """The visitor id a token was signed for, or None for anything else."""
    if not key or not isinstance(token, str) or len(token) > 100:
        return None
    visitor_id, _, mac = token.partition(".")
    if not VISITOR_ID.match(visitor_id):
        return None
    expected = _mac(key, connector_id, visitor_id)
    return visitor_id if hmac.compare_digest(mac.encode(), expected.encode()) else None


def match_locale(language: object, locales: tuple[str, ...]) -> str | None:
    """The hub locale for a browser's language tag ("bn-BD" -> "bn", "pt-br" -> "pt_BR")."""
    if not isinstance(language, str) or not language or len(language) > 35:
        return None
    wanted = language.replace("_", "-").lower()
    tags = [(loc, loc.replace("_", "-").lower()) for loc in locales]
    for loc, tag in tags:
        if tag == wanted:
            return loc
    primary = wanted.split("-")[0]
    for loc, tag in tags:
        if tag.split("-")[0] == primary:
            return loc
    return None
