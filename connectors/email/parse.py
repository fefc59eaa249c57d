"""Raw RFC 822 bytes -> ParsedMail. Pure functions: no I/O (inbound.py makes the message).

The body structure follows RFC 8621 §4.1.4 (JMAP's textBody/htmlBody/attachments), the
algorithm mail clients converge on, so what the hub shows is what a mail client shows.
"""

from __future__ import annotations

import email
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.policy import compat32
from typing import Any

from connectors.email.bodies import decode_text, html_to_text, sanitize_html, split_reply
from connectors.email.errors import MailParseError
from connectors.email.headers import (
    MailAddress,
    addresses,
    decode_words,
    header_date,
    header_text,
    message_ids,
)
from connectors.email.loopguard import AutoVerdict, auto_submitted_verdict, bounced_message_ids
from connectors.email.marker import find_marker
from hub.messages import DroppedAttachment

DEFAULT_MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
# Odoo caps the References it considers; so do we, keeping the newest.
MAX_REFERENCES = 100
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


@dataclass(frozen=True)
class ParsedMail:
    sender: MailAddress | None
    to: tuple[MailAddress, ...]
    cc: tuple[MailAddress, ...]
    reply_to: tuple[MailAddress, ...]
    subject: str | None
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    date: datetime | None
    # The whole text as sent; `new_text` is what the sender wrote now, without the quoted
    # history and signature.
    text: str
    new_text: str
    html: str | None
    attachments: tuple[MailAttachment, ...]
    dropped_attachments: tuple[DroppedAttachment, ...]
    auto: AutoVerdict
    bounced_message_ids: tuple[str, ...]
    thread_marker: str | None
    encoding_problems: tuple[str, ...]
    defects: tuple[str, ...]
    raw_sha256: str
    size: int

    def as_json(self) -> dict[str, Any]:
        """What `hub email parse` prints."""
        return {
            "from": self.sender.as_dict() if self.sender else None,
            "to": [a.as_dict() for a in self.to],
            "cc": [a.as_dict() for a in self.cc],
            "reply_to": [a.as_dict() for a in self.reply_to],
            "subject": self.subject,
            "message_id": self.message_id,
            "in_reply_to": list(self.in_reply_to),
            "references": list(self.references),
            "date": self.date.isoformat() if self.date else None,
            "text": self.text,
            "new_text": self.new_text,
            "html": self.html,
            "attachments": [a.as_dict() for a in self.attachments],
            "dropped_attachments": [vars(d) for d in self.dropped_attachments],
            "auto_submitted": self.auto.as_dict(),
            "bounced_message_ids": list(self.bounced_message_ids),
            "thread_marker": self.thread_marker,
            "encoding_problems": list(self.encoding_problems),
            "defects": list(self.defects),
            "size": self.size,
        }


def parse_mail(
    raw: bytes, *, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
) -> ParsedMail:
    """Parse one message; raises MailParseError only for input that is no mail at all."""
    if not raw.strip():
        raise MailParseError("empty message")
    head = raw[:4096]
    controls = sum(1 for b in head if b < 0x20 and b not in (9, 10, 13))
    if b"\x00" in head or controls > len(head) // 10:
        raise MailParseError("binary data, not a mail message (control bytes in the first 4 KiB)")
    try:
        # compat32 for the MIME tree: the modern policy re-parses Content-Type on every
        # accessor (~20 times a message, most of the parse time); headers.py decodes the
        # few header fields we read with the modern parser itself.
        msg = email.message_from_bytes(raw, policy=compat32)
        if not msg.keys():
            msg = _skip_leading_garbage(raw) or msg
    except Exception as exc:  # the stdlib parser is lenient; this is its last resort
        raise MailParseError(f"the MIME parser failed: {exc.__class__.__name__}: {exc}") from exc
    try:
        return _parse(msg, raw, max_attachment_bytes)
    except MailParseError:
        raise
    except Exception as exc:
        raise MailParseError(f"cannot read the message: {exc.__class__.__name__}: {exc}") from exc


_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")


def _skip_leading_garbage(raw: bytes) -> Message | None:
    """A mangled first line ("Fro :m...") hides every header from the stdlib parser; mail
    clients skip it and read the rest, so do we. Headerless text stays headerless."""
    lines = raw.splitlines(keepends=True)
    for i in range(1, min(4, len(lines))):
        if _HEADER_LINE.match(lines[i]) and _HEADER_LINE.match(b"".join(lines[i + 1 : i + 2])):
            msg = email.message_from_bytes(b"".join(lines[i:]), policy=compat32)
            if msg.keys():
                return msg
    return None


def _parse(msg: Message, raw: bytes, cap: int) -> ParsedMail:
    from_ = addresses(msg, "From")
    sender = next((a for a in from_ if a.address), None)
    if sender is None:
        # Some bounces and scripts leave From empty; Sender or Return-Path still name them.
        fallback = next(
            (a for n in ("Sender", "Return-Path") for a in addresses(msg, n) if a.address), None
        )
        if fallback is not None:
            sender = MailAddress(fallback.address, from_[0].name if from_ else fallback.name)
    if sender is None and from_:
        sender = from_[0]
    body = _Bodies(cap)
    body.collect([msg], "mixed", False, body.text_parts, body.html_parts)
    text = "\n".join(t for t in body.texts() if t).strip("\n")
    split = split_reply(text)
    html = body.html()
    auto = auto_submitted_verdict(
        msg, sender.address if sender else None, sender.name if sender else None
    )
    mids = message_ids(header_text(msg, "Message-ID"))
    return ParsedMail(
        sender=sender,
        to=addresses(msg, "To"),
        cc=addresses(msg, "Cc"),
        reply_to=tuple(a for a in addresses(msg, "Reply-To") if a.address),
        subject=header_text(msg, "Subject"),
        message_id=mids[0] if mids else None,
        in_reply_to=message_ids(header_text(msg, "In-Reply-To")),
        references=message_ids(header_text(msg, "References"))[-MAX_REFERENCES:],
        date=header_date(msg),
        text=text,
        new_text=split.new_text,
        html=html,
        attachments=tuple(body.attachments),
        dropped_attachments=tuple(body.dropped),
        auto=auto,
        bounced_message_ids=bounced_message_ids(msg, auto, sender.address if sender else None),
        thread_marker=find_marker(text, html),
        encoding_problems=tuple(body.problems),
        defects=tuple(sorted({d.__class__.__name__ for p in msg.walk() for d in p.defects})),
        raw_sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
    )


class _Bodies:
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
            disposition = _safe(part.get_content_disposition)
            filename = _filename_param(part)
            is_media = ctype.startswith(_INLINE_MEDIA)
            inline = (
                disposition != "attachment"
                and (ctype in ("text/plain", "text/html") or is_media)
                and (i == 0 or (multipart_type != "related" and (is_media or not filename)))
            )
            if not inline:
                self._attach(part)
                continue
            if multipart_type == "alternative":
                if ctype == "text/plain" and text_parts is not None:
                    text_parts.append(part)
                elif ctype == "text/html" and html_parts is not None:
                    html_parts.append(part)
                else:
                    self._attach(part)
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
            if text_len == len(text_parts) and html_len != len(html_parts):
                text_parts.extend(html_parts[html_len:])
            if html_len == len(html_parts) and text_len != len(text_parts):
                html_parts.extend(text_parts[text_len:])

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
    if not isinstance(name, str):
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
