"""Turning an OutboundMessage into an RFC 5322 email."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate
from html import escape

from connectors.email.marker import wrap_marker
from hub.messages import OutboundMessage

# Enough of a thread for any mail client; older ancestors add nothing but header size.
MAX_REFERENCES = 32


def message_id_for(msg: OutboundMessage, domain: str) -> str:
    """Derived from the idempotency key, so every retry carries the same Message-ID."""
    return f"<{msg.idempotency_key}@{domain}>"


def compose(
    msg: OutboundMessage,
    *,
    from_address: str,
    from_name: str | None,
    reply_to: str | None,
    domain: str,
) -> EmailMessage:
    if msg.to.kind != "email":
        raise ValueError(f"email connectors send to email addresses, not {msg.to.kind}")
    mail = EmailMessage(policy=SMTP)
    mail["Message-ID"] = message_id_for(msg, domain)
    mail["Date"] = formatdate(usegmt=True)
    mail["From"] = formataddr((from_name or "", from_address))
    mail["To"] = formataddr((msg.to.display_name or "", msg.to.value))
    if reply_to:
        mail["Reply-To"] = reply_to
    mail["Subject"] = " ".join((msg.subject or "").split())
    _thread(mail, msg)
    if msg.auto_submitted:
        # RFC 3834: tells well-behaved responders not to answer us automatically. A message
        # with an opt-out link is proactive (a greeting), not an answer to anything.
        mail["Auto-Submitted"] = "auto-generated" if msg.list_unsubscribe else "auto-replied"
        mail["X-Auto-Response-Suppress"] = "All"
    if msg.list_unsubscribe:
        # RFC 2369 and RFC 8058: mail clients show an unsubscribe button that POSTs here.
        mail["List-Unsubscribe"] = f"<{msg.list_unsubscribe}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if msg.ticket_ref:
        mail["X-Hub-Ticket"] = msg.ticket_ref
    text, html = msg.text, msg.html
    if msg.thread_marker:
        # Quoted back by the customer's client, it threads the reply even when a provider
        # rewrote our Message-ID and dropped In-Reply-To (Outlook, some webmail).
        wrapped = wrap_marker(msg.thread_marker)
        text = f"{text.rstrip()}\n\n{wrapped}\n"
        if html:
            html += f'\n<div style="color:#999999;font-size:10px">{escape(wrapped)}</div>'
    mail.set_content(text)
    if html:
        mail.add_alternative(html, subtype="html")
    for att in msg.attachments:
        maintype, _, subtype = att.content_type.partition("/")
        mail.add_attachment(
            att.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=att.filename,
        )
    return mail


def _thread(mail: EmailMessage, msg: OutboundMessage) -> None:
    """In-Reply-To and References: what the customer's client threads the answer by."""
    refs = list(msg.references)[-MAX_REFERENCES:]
    if msg.in_reply_to:
        mail["In-Reply-To"] = msg.in_reply_to
        if msg.in_reply_to not in refs:
            refs.append(msg.in_reply_to)
    if refs:
        mail["References"] = " ".join(refs[-MAX_REFERENCES:])
