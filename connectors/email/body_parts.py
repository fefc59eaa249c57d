"""A mail's MIME leaves sorted into text body, HTML body and attachments (RFC 8621 §4.1.4).

JMAP's textBody/htmlBody/attachments algorithm, the one mail clients converge on, so what
the hub shows is what a mail client shows.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Any

from connectors.email.bodies import decode_text, html_to_text, sanitize_html
from connectors.email.headers import decode_words, header_text, message_ids
from hub.messages import DroppedAttachment

_INLINE_MEDIA = ("image/", "audio/", "video/")


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    content: bytes = field(repr=False)
    content_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "content_id": self.content_id,
        }


def _inline(part: Message, ctype: str, *, first: bool, multipart_type: str) -> bool:
    """Whether a leaf is shown in the body (else it is an attachment), RFC 8621 §4.1.4."""
    disposition = _safe(part.get_content_disposition)
    filename = _filename_param(part)
    is_media = ctype.startswith(_INLINE_MEDIA)
    return (
        disposition != "attachment"
        and (ctype in ("text/plain", "text/html") or is_media)
        and (first or (multipart_type != "related" and (is_media or not filename)))
    )


def _complete_alternative(
    text_parts: list[Message], html_parts: list[Message], text_len: int, html_len: int
) -> None:
    """An alternative that gave only one of the bodies something shows it in both."""
    if text_len == len(text_parts) and html_len != len(html_parts):
        text_parts.extend(html_parts[html_len:])
    if html_len == len(html_parts) and text_len != len(text_parts):
        html_parts.extend(text_parts[text_len:])


class BodyParts:
    """Sorts the MIME leaves into text body, HTML body and attachments (RFC 8621 §4.1.4)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.text_parts: list[Message] = []
        self.html_parts: list[Message] = []
        self.attachments: list[MailAttachment] = []
        self.dropped: list[DroppedAttachment] = []
        self.problems: list[str] = []
        self._decoded: dict[int, str] = {}
        self._seen: set[int] = set()
        self._count = 0

    def collect(
        self,
        parts: list[Message],
        multipart_type: str,
        in_alternative: bool,
        text_parts: list[Message] | None,
        html_parts: list[Message] | None,
    ) -> None:
        # The lists are shared down the tree; dropping one (None) is local to this level.
        text_len = len(text_parts or [])
        html_len = len(html_parts or [])
        for i, part in enumerate(parts):
            ctype = _kind(part)
            payload = part.get_payload()
            if part.get_content_maintype() == "multipart" and isinstance(payload, list):
                sub = part.get_content_subtype()
                self.collect(
                    payload, sub, in_alternative or sub == "alternative", text_parts, html_parts
                )
                continue
            is_media = ctype.startswith(_INLINE_MEDIA)
            if not _inline(part, ctype, first=i == 0, multipart_type=multipart_type):
                self._attach(part)
                continue
            if multipart_type == "alternative":
                self._alternative(part, ctype, text_parts, html_parts)
                continue
            if in_alternative:
                if ctype == "text/plain":
                    html_parts = None
                if ctype == "text/html":
                    text_parts = None
            if text_parts is not None:
                text_parts.append(part)
            if html_parts is not None:
                html_parts.append(part)
            if is_media:
                # We keep every picture as an attachment, whatever else shows it inline.
                self._attach(part)
        if multipart_type == "alternative" and text_parts and html_parts:
            _complete_alternative(text_parts, html_parts, text_len, html_len)

    def _alternative(
        self,
        part: Message,
        ctype: str,
        text_parts: list[Message] | None,
        html_parts: list[Message] | None,
    ) -> None:
        if ctype == "text/plain" and text_parts is not None:
            text_parts.append(part)
        elif ctype == "text/html" and html_parts is not None:
            html_parts.append(part)
        else:
            self._attach(part)

    def texts(self) -> list[str]:
        parts = self.text_parts or []
        if not any(_kind(p) == "text/plain" and self._decode(p).strip() for p in parts):
            # No text part with text in it: derive the text from the HTML body.
            parts = self.html_parts or parts
        out = []
        for part in parts:
            ctype = _kind(part)
            if ctype == "text/plain":
                out.append(self._decode(part))
            elif ctype == "text/html":
                out.append(html_to_text(self._decode(part)))
        return out

    def html(self) -> str | None:
        parts = self.html_parts or []
        if not any(_kind(p) == "text/html" for p in parts):
            return None
        chunks = []
        for part in parts:
            ctype = _kind(part)
            if ctype == "text/html":
                chunks.append(self._decode(part))
            elif ctype == "text/plain":
                chunks.append(f"<pre>{_escape(self._decode(part))}</pre>")
        return sanitize_html("\n".join(chunks))

    def _decode(self, part: Message) -> str:
        key = id(part)
        if key not in self._decoded:
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                data = str(part.get_payload()).encode("utf-8", "surrogateescape")
            decoded = decode_text(data, _safe(part.get_content_charset))
            if decoded.problem:
                self.problems.append(f"{part.get_content_type()}: {decoded.problem}")
            self._decoded[key] = decoded.text.replace("\r\n", "\n")
        return self._decoded[key]

    def _attach(self, part: Message) -> None:
        if id(part) in self._seen:
            return
        self._seen.add(id(part))
        self._count += 1
        ctype = part.get_content_type()
        content = _content_bytes(part)
        name = _filename(part, ctype, self._count)
        if len(content) > self.cap:
            self.dropped.append(
                DroppedAttachment(
                    name, ctype, len(content), f"larger than the {self.cap}-byte attachment cap"
                )
            )
            return
        cid = message_ids(header_text(part, "Content-ID"))
        self.attachments.append(
            MailAttachment(
                filename=name,
                content_type=ctype,
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                content=content,
                content_id=cid[0] if cid else None,
            )
        )


def _kind(part: Message) -> str:
    """The content type, except that a multipart without usable boundaries is its own text."""
    ctype = part.get_content_type()
    if ctype.startswith("multipart/") and not isinstance(part.get_payload(), list):
        return "text/plain"
    return ctype


def _content_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    if part.get_content_maintype() == "message" and isinstance(payload, list) and payload:
        try:
            return payload[0].as_bytes()
        except Exception:
            return str(payload[0]).encode("utf-8", "surrogateescape")
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    return str(payload or "").encode("utf-8", "surrogateescape")


def _filename(part: Message, ctype: str, n: int) -> str:
    name = _filename_param(part) or ""
    # Only the last path component: a name like "../../etc/passwd" is a name, not a path.
    name = re.sub(r"[\x00-\x1f\x7f]", "", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if name in ("", ".", ".."):
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            subject = header_text(inner, "Subject") if inner is not None else None
            name = re.sub(r"[\\/\x00-\x1f]", "_", subject or f"message-{n}")[:100] + ".eml"
        else:
            text_like = ctype.startswith(("text/", "message/"))
            name = (
                f"part-{n}{mimetypes.guess_extension(ctype) or ('.txt' if text_like else '.bin')}"
            )
    return name[:255]


def _filename_param(part: Message) -> str | None:
    name = _safe(part.get_filename)
    if not isinstance(name, str) or not name.strip():
        # Outlook and others write `filename=` empty or bare, with the name only in
        # Content-Type (`image/jpeg; name="image001.jpg"`); the stdlib looks there only
        # when Content-Disposition has no filename parameter at all.
        name = _safe(lambda: collapse_rfc2231_value(part.get_param("name") or ""))
    if not isinstance(name, str) or not name.strip():
        return None
    # compat32 decodes RFC 2231 names but leaves RFC 2047 words ("=?utf-8?q?...?=") alone.
    return decode_words(name) if "=?" in name else name


def _safe(getter: Any) -> Any:
    """Header parameters of broken mail can raise deep in the stdlib; absent is good enough."""
    try:
        return getter()
    except Exception:
        return None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
