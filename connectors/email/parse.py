"""Raw RFC 822 bytes -> ParsedMail. Pure functions: no I/O (inbound.py makes the message).

The body structure (text, HTML, attachments) is body_parts.py's.
"""

from __future__ import annotations

import email
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.policy import compat32
from typing import Any

from connectors.email.bodies import split_reply
from connectors.email.body_parts import BodyParts, MailAttachment
from connectors.email.errors import MailParseError
from connectors.email.headers import (
    MailAddress,
    addresses,
    header_date,
    header_text,
    message_ids,
)
from connectors.email.loopguard import (
    AutoVerdict,
    Sender,
    auto_submitted_verdict,
    bounced_message_ids,
    reporting_mta,
)
from connectors.email.marker import find_marker
from connectors.email.relay import DEFAULT_RULES, MailRules, relayed_author
from hub.messages import DroppedAttachment

DEFAULT_MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
# Odoo caps the References it considers; so do we, keeping the newest.
MAX_REFERENCES = 100


@dataclass(frozen=True)
class ParsedMail:
    # Who the hub files the mail under: From, or the author of mail a group relayed.
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
    # The group or list that relayed the mail of `sender` (From said the group).
    relayed_by: MailAddress | None = None

    def as_json(self) -> dict[str, Any]:
        """What `hub email parse` prints."""
        return {
            "from": self.sender.as_dict() if self.sender else None,
            "relayed_by": self.relayed_by.as_dict() if self.relayed_by else None,
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
    raw: bytes,
    *,
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
    rules: MailRules = DEFAULT_RULES,
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
        return _parse(msg, raw, max_attachment_bytes, rules)
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


def _from(msg: Message) -> MailAddress | None:
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
    return sender


def _bounce_sender(msg: Message, bounced: tuple[str, ...]) -> MailAddress:
    """Who a bounce without any sender is filed under (the hub files mail by an address):
    the mailer daemon of the host that reports it, else of the mailbox it came to, else of
    the domain of our returned mail."""
    hosts = [reporting_mta(msg)]
    hosts += [a.address.rpartition("@")[2] for a in addresses(msg, "To") if a.address]
    hosts += [mid.strip("<>").rpartition("@")[2] for mid in bounced]
    host = next(h for h in hosts if h)
    return MailAddress(f"MAILER-DAEMON@{host}", "Mail Delivery System")


def _parse(msg: Message, raw: bytes, cap: int, rules: MailRules) -> ParsedMail:
    sender = _from(msg)
    relayed = relayed_author(msg, sender, rules)
    if relayed is not None:
        sender = relayed.author
    body = BodyParts(cap)
    body.collect([msg], "mixed", False, body.text_parts, body.html_parts)
    text = "\n".join(t for t in body.texts() if t).strip("\n")
    split = split_reply(text)
    html = body.html()
    who = Sender(
        sender.address if sender else None,
        sender.name if sender else None,
        rules,
        own_group=relayed is not None and rules.named_group(relayed.group),
    )
    auto = auto_submitted_verdict(msg, who)
    mids = message_ids(header_text(msg, "Message-ID"))
    bounced = bounced_message_ids(msg, auto, who.address)
    if bounced and (sender is None or not sender.address):
        sender = _bounce_sender(msg, bounced)
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
        bounced_message_ids=bounced,
        thread_marker=find_marker(text, html),
        encoding_problems=tuple(body.problems),
        defects=tuple(sorted({d.__class__.__name__ for p in msg.walk() for d in p.defects})),
        raw_sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
        relayed_by=relayed.group if relayed else None,
    )
