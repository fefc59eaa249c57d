"""Text from outside that is not a body: ids in paths and queries, header values,
redirect targets. Each is read here so a stray byte is a 4xx, never a 500."""

from __future__ import annotations

import re

MAX_ID_DIGITS = 18
# Control characters (CR, LF, NUL, ...) end a header line: never in a Location.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_id(raw: str | None) -> int | None:
    """`raw` as a row id, or None: ASCII digits only (a superscript 2 is no id)."""
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= MAX_ID_DIGITS:
        return int(raw)
    return None


def header_bytes(value: str) -> bytes | None:
    """A header value as the bytes that were sent, or None when it is not valid UTF-8
    (aiohttp keeps undecodable bytes as lone surrogates, which cannot be encoded)."""
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        return None


def safe_redirect(raw: str | None, prefix: str) -> str:
    """`raw` if it is a path under `prefix` that is safe to put in a Location, else `prefix`."""
    if (
        raw
        and raw.startswith(prefix)
        and "//" not in raw
        and "\\" not in raw
        and not _CONTROL.search(raw)
        and header_bytes(raw) is not None
    ):
        return raw
    return prefix
