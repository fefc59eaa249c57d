"""What the operator tells the parser about their mail, and mail that a group or list relays
on behalf of a person (Google Groups, Mailman): who really wrote it.

A group that relays mail rewrites From to its own address (DMARC forbids it to send as the
author's domain) and names the author elsewhere: `X-Original-Sender: jane@example.com`, or
`From: "'Jane Doe' via Support" <support@googlegroups.com>` with `Reply-To: jane@...`.
Filed under the group, every author would be one customer and the acknowledgement would go
to the whole group.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

from connectors.email.headers import MailAddress, addresses, header_text

# Google Groups and Mailman's DMARC mitigation: "'Jane Doe' via Support" or "Jane via Group".
_VIA = re.compile(r"^\s*['\"]?(?P<name>.*?)['\"]?\s+via\s+\S.*$", re.IGNORECASE)


@dataclass(frozen=True)
class MailRules:
    """The parser's part of the IMAP connector's settings (connectors/email/settings.py).

    `groups`: lower-cased addresses of the operator's own groups and lists. Empty: the
    original sender is believed wherever the headers name one. Named: only for mail from
    these groups (another sender's X-Original-Sender is not believed), and their list
    headers (List-Id, Precedence: list) do not make the mail automatic, since the group is
    how customers reach the operator.
    `no_reply`: glob patterns of sender addresses never answered automatically
    (`*@alerts.example.com`), beyond the built-in no-reply and system senders.
    """

    groups: frozenset[str] = frozenset()
    no_reply: tuple[str, ...] = ()

    def believes_relay(self, group: str) -> bool:
        return not self.groups or group.lower() in self.groups

    def named_group(self, group: MailAddress | None) -> bool:
        return group is not None and (group.address or "").lower() in self.groups

    def no_reply_pattern(self, address: str | None) -> str | None:
        """The configured pattern `address` matches, if any (case-insensitive)."""
        value = (address or "").lower()
        return next((p for p in self.no_reply if value and fnmatch.fnmatch(value, p.lower())), None)


DEFAULT_RULES = MailRules()


@dataclass(frozen=True)
class Relayed:
    """A relayed mail's author (the customer) and the group that relayed it."""

    author: MailAddress
    group: MailAddress


def relayed_author(msg: Message, sender: MailAddress | None, rules: MailRules) -> Relayed | None:
    """The person a group's mail is from, when the headers name one other than the group."""
    if sender is None or not sender.address or not rules.believes_relay(sender.address):
        return None
    reply_to = [a for a in addresses(msg, "Reply-To") if a.address]
    via = _VIA.match(sender.name or "")
    author = _original_sender(msg, via.group("name") if via else None, reply_to)
    if author is None and reply_to and (via or rules.named_group(sender)):
        # The DMARC rewrite without X-Original-Sender: the author is left in Reply-To.
        author = reply_to[0]
    if author is None or (author.address or "").lower() == sender.address.lower():
        return None
    return Relayed(author, sender)


def _original_sender(
    msg: Message, via_name: str | None, reply_to: list[MailAddress]
) -> MailAddress | None:
    # Not an address field to the stdlib's header registry: read as one here.
    value = header_text(msg, "X-Original-Sender") or ""
    found = next((MailAddress(a, n or None) for n, a in getaddresses([value]) if "@" in a), None)
    if found is None or found.address is None:
        return None
    # The header holds a bare address; the name is in the "via" display name or Reply-To.
    same = next((a for a in reply_to if (a.address or "").lower() == found.address.lower()), None)
    return MailAddress(found.address, found.name or via_name or (same.name if same else None))
