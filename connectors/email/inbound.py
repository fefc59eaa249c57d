"""ParsedMail -> InboundMessage: what the core gets of a mail, and what it must not get."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.email.errors import MailUnusable
from hub.messages import Address, Attachment, InboundMessage

if TYPE_CHECKING:
    from connectors.email.parse import ParsedMail

CHANNEL = "email"
# The messages table holds external ids up to 300 characters and subjects up to 500.
MAX_EXTERNAL_ID = 290
MAX_SUBJECT = 500


def to_inbound(
    parsed: ParsedMail, connector_id: str, *, received_at: datetime | None = None
) -> InboundMessage:
    """The hub's message for a parsed mail; raises MailUnusable when it has no sender."""
    if parsed.sender is None or not parsed.sender.address:
        raise MailUnusable("no sender address: From, Sender and Return-Path are empty or invalid")
    sender = Address("email", parsed.sender.address, parsed.sender.name)
    # A group's Reply-To is often the group itself: answer the author of relayed mail.
    reply = parsed.reply_to[0] if parsed.reply_to and not parsed.relayed_by else parsed.sender
    external_id = parsed.message_id or f"sha256:{parsed.raw_sha256}"
    if len(external_id) > MAX_EXTERNAL_ID:
        external_id = f"mid-sha256:{hashlib.sha256(external_id.encode()).hexdigest()}"
    meta: dict[str, Any] = {
        "message_id": parsed.message_id,
        "to": [a.as_dict() for a in parsed.to],
        "cc": [a.as_dict() for a in parsed.cc],
        "date": parsed.date.isoformat() if parsed.date else None,
        "attachments": [a.as_dict() for a in parsed.attachments],
        "size": parsed.size,
    }
    if parsed.relayed_by is not None:
        meta["relayed_by"] = parsed.relayed_by.as_dict()
    if parsed.new_text != parsed.text:
        meta["full_text"] = parsed.text
    if parsed.auto.automatic:
        meta["auto_submitted_reason"] = parsed.auto.reason
    if parsed.encoding_problems:
        meta["encoding_problems"] = list(parsed.encoding_problems)
    subject = parsed.subject
    if subject and len(subject) > MAX_SUBJECT:
        subject = subject[: MAX_SUBJECT - 1] + "…"
    return InboundMessage(
        channel=CHANNEL,
        connector_id=connector_id,
        external_id=external_id,
        sender=sender,
        text=parsed.new_text,
        subject=subject,
        html=parsed.html,
        reply_to=Address("email", reply.address or sender.value, reply.name),
        received_at=received_at,
        sent_at=parsed.date,
        auto_submitted=parsed.auto.automatic,
        attachments=tuple(
            Attachment(a.filename, a.content_type, a.content) for a in parsed.attachments
        ),
        in_reply_to=parsed.in_reply_to[0] if parsed.in_reply_to else None,
        references=parsed.references,
        thread_marker=parsed.thread_marker,
        bounced_message_ids=parsed.bounced_message_ids,
        dropped_attachments=parsed.dropped_attachments,
        meta=meta,
    )
