"""Shaping an outgoing message for the Bot API. Pure: data in, data out."""

from __future__ import annotations

# sendMessage takes at most 4,096 characters. Telegram measures text in UTF-16 code
# units (as its entity offsets do), so we count those: an emoji costs two.
MAX_MESSAGE_CHARS = 4096
# sendPhoto takes photos up to 10 MB; bigger images go as documents.
MAX_PHOTO_BYTES = 10 * 1024 * 1024
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})

# Where to cut, best first: between paragraphs, between lines, between words.
_SEPARATORS = ("\n\n", "\n", " ")


def split_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """`text` in parts of at most `limit` UTF-16 units, cut at the best boundary in reach."""
    parts: list[str] = []
    rest = text.strip()
    while rest:
        fits = _prefix_fitting(rest, limit)
        if fits == len(rest):
            parts.append(rest)
            break
        window = rest[:fits]
        cut, skip = fits, 0
        for sep in _SEPARATORS:
            # A boundary in the first half would leave a stub of a part: try a finer one.
            pos = window.rfind(sep)
            if pos >= fits // 2:
                cut, skip = pos, len(sep)
                break
        part = rest[:cut].rstrip()
        if part:
            parts.append(part)
        rest = rest[cut + skip :].lstrip("\n")
    return parts


def send_method(content_type: str, size: int) -> str:
    """The Bot API method that delivers an attachment of this type and size."""
    if content_type.lower() in PHOTO_TYPES and size <= MAX_PHOTO_BYTES:
        return "sendPhoto"
    return "sendDocument"


def _prefix_fitting(s: str, limit: int) -> int:
    """How many code points of `s` fit in `limit` UTF-16 units."""
    units = 0
    for i, ch in enumerate(s):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return i
    return len(s)
