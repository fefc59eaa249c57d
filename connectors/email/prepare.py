"""Fetched mail -> InboundMessage, in the IMAP connector's parser process.

A module of its own: the parser process is spawned and imports this (with the email
package's __init__, which names the connector types, so the whole package: about half a
second more to boot, during which batches are parsed in a thread).
"""

from __future__ import annotations

from connectors.email.errors import MailParseError
from connectors.email.imap_session import Fetched
from connectors.email.inbound import to_inbound
from connectors.email.parse import parse_mail
from connectors.email.relay import DEFAULT_RULES, MailRules
from hub.messages import InboundMessage


def prepare(
    fetched: list[Fetched],
    connector_id: str,
    max_message_bytes: int,
    max_attachment_bytes: int,
    rules: MailRules = DEFAULT_RULES,
) -> list[InboundMessage | str]:
    """Each fetched mail as a message, or the reason it cannot be one. Runs in the parser
    process: parsing is CPU work that would otherwise hold the GIL against the event loop."""
    out: list[InboundMessage | str] = []
    for item in fetched:
        if item.truncated:
            out.append(
                f"message of {item.size} bytes is over the "
                f"{max_message_bytes}-byte cap; only its header was kept"
            )
            continue
        try:
            parsed = parse_mail(item.raw, max_attachment_bytes=max_attachment_bytes, rules=rules)
            out.append(to_inbound(parsed, connector_id, received_at=item.internal_date))
        except MailParseError as exc:
            out.append(str(exc))
    return out
