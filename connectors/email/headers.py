"""Header fields read defensively: raw 8-bit bytes, broken encoded words, odd addresses."""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.policy import default as default_policy
from email.utils import getaddresses, parsedate_to_datetime

from connectors.email.bodies import decode_text

_MSGID = re.compile(r"<([^<>\s]+)>")
_SURROGATES = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class MailAddress:
    address: str | None
    name: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "address": self.address}


def raw_header(msg: Message, name: str) -> str | None:
    """The first field of that name as sent, unfolded, 8-bit bytes repaired to text."""
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            value = "".join(str(value).splitlines())
            if _SURROGATES.search(value):
                # 8-bit bytes in a header (RFC 6532 UTF-8, or a legacy client's Latin-1).
                value = decode_text(value.encode("ascii", "surrogateescape"), None).text
            return value
    return None


def header_text(msg: Message, name: str) -> str | None:
    """A header's decoded text (RFC 2047 words decoded), whitespace collapsed; None if absent."""
    value = raw_header(msg, name)
    if value is None:
        return None
    try:
        decoded = str(default_policy.header_factory(name, value))
    except Exception:
        decoded = value
    if "=?" in decoded:
        # Encoded words the stdlib leaves alone: glued to text, or folded inside the word.
        decoded = decode_words(decoded)
    return " ".join(_SURROGATES.sub("\ufffd", decoded).split())


_LOOSE_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*?)\?=")


def decode_words(text: str) -> str:
    # RFC 2047 §6.2: whitespace between two encoded words is not part of the text.
    text = re.sub(r"(\?=)\s+(?==\?[^?\s]+\?[bBqQ]\?)", r"\1", text)
    # A word glued to plain text ("[SPAM]=?utf-8?...") reads as two words, as mail clients show.
    text = re.sub(r"(?<=[^\s=])(?==\?[^?\s]+\?[bBqQ]\?)", " ", text)

    def word(m: re.Match[str]) -> str:
        charset, kind, data = m.group(1).split("*", 1)[0], m.group(2).upper(), m.group(3)
        try:
            if kind == "B":
                data = re.sub(r"\s+", "", data)
                raw = base64.b64decode(data + "=" * (-len(data) % 4))
            else:
                raw = quopri.decodestring(data.replace("_", " ").encode("ascii"), header=True)
        except (ValueError, binascii.Error, UnicodeEncodeError):
            return m.group(0)
        return decode_text(raw, charset).text

    return _LOOSE_WORD.sub(word, text)


def addresses(msg: Message, name: str) -> tuple[MailAddress, ...]:
    value = raw_header(msg, name)
    if value is None:
        return ()
    found: list[MailAddress] = []
    try:
        header = default_policy.header_factory(name, value)
        for addr in getattr(header, "addresses", ()):
            found.append(_address(addr.addr_spec, addr.display_name))
    except Exception:
        found = [_address(spec, display) for display, spec in getaddresses([value])]
    return tuple(a for a in found if a.address or a.name)


def _address(spec: str | None, display: str | None) -> MailAddress:
    spec = (spec or "").strip()
    # "<>" and group syntax leave an empty or local-only spec: not an address anyone reads.
    name = " ".join(_SURROGATES.sub("\ufffd", display or "").split())
    if "@" not in spec or spec.startswith("@") or spec.endswith("@"):
        # "From: Whomever": a name without an address, which mail clients show as the name.
        name = name or spec.strip("<>@")
        spec = ""
    return MailAddress(spec or None, name or None)


def message_ids(value: str | None) -> tuple[str, ...]:
    """Message-IDs in a Message-ID / In-Reply-To / References value, as `<id>`."""
    if not value:
        return ()
    ids = [f"<{m}>" for m in _MSGID.findall(value)]
    if not ids:
        # Some clients drop the angle brackets; a bare token with an @ is still an id.
        ids = [f"<{t}>" for t in re.split(r"[\s,]+", value) if "@" in t and "<" not in t]
    return tuple(dict.fromkeys(ids))


def header_date(msg: Message) -> datetime | None:
    value = raw_header(msg, "Date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
