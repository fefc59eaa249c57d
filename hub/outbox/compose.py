"""An outbox row as the message its connector sends."""

from __future__ import annotations

import logging
from typing import Any

from hub.messages import Address, Choice, Notice, OutboundMessage, TemplateMessage
from hub.tickets.records import ticket_ref
from hub.tickets.thread_match import make_marker

log = logging.getLogger("hub.outbox.worker")


def outbound_message(row: Any, template: TemplateMessage | None, secret: bytes) -> OutboundMessage:
    """`template` is the row's `template_message(row)`; `secret` signs the thread marker."""
    return OutboundMessage(
        connector_id=row.connector_id,
        to=Address(row.recipient_kind, row.recipient, row.recipient_name),
        text=row.body_text,
        idempotency_key=row.idempotency_key,
        subject=row.subject,
        html=row.body_html,
        ticket_ref=ticket_ref(row.ticket_id) if row.ticket_id is not None else None,
        auto_submitted=row.auto_submitted,
        in_reply_to=row.in_reply_to,
        references=tuple(row.references or ()),
        thread_marker=(make_marker(row.ticket_id, secret) if row.ticket_id is not None else None),
        list_unsubscribe=row.list_unsubscribe,
        notice=_notice(row),
        template=row.template,
        template_message=template,
        choices=_choices(row),
    )


def _choices(row: Any) -> tuple[Choice, ...]:
    """A survey's buttons; unreadable ones are left out (the text still asks the question)."""
    raw = (row.payload or {}).get("choices") or ()
    try:
        return tuple(Choice(str(c["label"]), str(c["payload"])) for c in raw)
    except (KeyError, TypeError):
        log.warning("unreadable choices outbox=%s; sending text", row.id)
        return ()


def _notice(row: Any) -> Notice | None:
    """A notification's structure; one that cannot be read is sent as its plain text."""
    if not row.payload or "alerts" not in row.payload:
        return None
    try:
        return Notice.from_json(row.payload)
    except (KeyError, TypeError, ValueError):
        log.warning("unreadable notification payload outbox=%s; sending text", row.id)
        return None


def template_message(row: Any) -> TemplateMessage | None:
    """A proactive message's approved template; unreadable, the send fails for good rather
    than go as free text the channel would refuse."""
    if not row.payload or "template" not in row.payload:
        return None
    return TemplateMessage.from_json(row.payload["template"])
