"""RFC 3834 loop guard: is this mail automatic, and which of our mails did a bounce return?"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser, HeaderParser
from email.policy import default as default_policy

from connectors.email.headers import header_text, message_ids
from connectors.email.relay import DEFAULT_RULES, MailRules

_AUTOMATIC_LOCALPARTS = {"mailer-daemon", "postmaster", "mailer_daemon"}
_NOREPLY = re.compile(r"^(no-?reply|do-?not-?reply|donotreply|bounces?)([+._-].*)?$", re.I)
# The same words inside a system sender's local part: "calendar-notification-noreply",
# "account.no_reply", "do_not_reply".
_NOREPLY_WORD = re.compile(r"(^|[+._-])(no[._-]?reply|do[._-]?not[._-]?reply)([+._-]|$)", re.I)
_BULK_PRECEDENCE = {"bulk", "list", "junk"}
_NULL_SENDER = "Return-Path: <> (null sender)"


@dataclass(frozen=True)
class AutoVerdict:
    """Whether a mail was sent by a machine, and the header that says so."""

    automatic: bool
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"automatic": self.automatic, "reason": self.reason}


HUMAN = AutoVerdict(False)


@dataclass(frozen=True)
class Sender:
    """Who the verdict is about, and what the operator said about such senders."""

    address: str | None
    name: str | None = None
    rules: MailRules = DEFAULT_RULES
    # Relayed by one of the operator's own groups: its list headers say nothing of the author.
    own_group: bool = False


def auto_submitted_verdict(msg: Message, sender: Sender) -> AutoVerdict:
    """The first reason (RFC 3834 and common practice) not to answer this mail automatically."""
    return _header_verdict(msg, sender.own_group) or _sender_verdict(msg, sender) or HUMAN


def _header_verdict(msg: Message, own_group: bool) -> AutoVerdict | None:
    """A header that marks the mail automatic, a list's or a report."""
    value = header_text(msg, "Auto-Submitted")
    if value is not None:
        keyword = value.split(";", 1)[0].strip().lower()
        if keyword and keyword != "no":
            return AutoVerdict(True, f"Auto-Submitted: {keyword}")
    precedence = (header_text(msg, "Precedence") or "").strip().lower()
    if precedence in _BULK_PRECEDENCE and not (own_group and precedence == "list"):
        return AutoVerdict(True, f"Precedence: {precedence}")
    suppress = header_text(msg, "X-Auto-Response-Suppress")
    if suppress is not None and suppress.strip().lower() not in ("", "none"):
        return AutoVerdict(True, f"X-Auto-Response-Suppress: {suppress.strip()}")
    for name in () if own_group else ("List-Id", "List-Unsubscribe"):
        if header_text(msg, name) is not None:
            return AutoVerdict(True, f"{name} present (mailing list)")
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if header_text(msg, name) is not None:
            return AutoVerdict(True, f"{name} present")
    if msg.get_content_type() == "multipart/report":
        report = msg.get_param("report-type") or "unknown"
        return AutoVerdict(True, f"multipart/report ({report})")
    return None


def _sender_verdict(msg: Message, sender: Sender) -> AutoVerdict | None:
    """A sender that is a machine's (a mailer daemon, a no-reply address, the null sender)."""
    local = (sender.address or "").rpartition("@")[0].lower()
    if local in _AUTOMATIC_LOCALPARTS:
        return AutoVerdict(True, f"sender {local}")
    name = (sender.name or "").strip().lower().replace(" ", "-")
    if not sender.address and name in _AUTOMATIC_LOCALPARTS:
        return AutoVerdict(True, f"sender {name}")
    if local and (_NOREPLY.match(local) or _NOREPLY_WORD.search(local)):
        return AutoVerdict(True, f"sender {local} takes no replies")
    pattern = sender.rules.no_reply_pattern(sender.address)
    if pattern is not None:
        return AutoVerdict(True, f"sender matches no_reply_senders {pattern!r}")
    return_path = header_text(msg, "Return-Path")
    if return_path is not None and return_path.strip() in ("<>", ""):
        return AutoVerdict(True, _NULL_SENDER)
    return None


def bounced_message_ids(msg: Message, verdict: AutoVerdict, sender: str | None) -> tuple[str, ...]:
    """Message-IDs of the mails a delivery failure report returns (RFC 3464), oldest first.

    A report that says "delayed" or "delivered" bounces nothing; a non-standard bounce from
    a mailer-daemon counts when it carries the returned mail.
    """
    if not verdict.automatic:
        return ()
    is_dsn = (
        msg.get_content_type() == "multipart/report"
        and (msg.get_param("report-type") or "").lower() == "delivery-status"
    )
    from_daemon = (sender or "").rpartition("@")[0].lower() in _AUTOMATIC_LOCALPARTS or (
        verdict.reason or ""
    ).startswith("sender mailer")
    # No From and the null sender (RFC 5321 §4.5.5): how MTAs send a bounce that is no DSN.
    null_sender = sender is None and verdict.reason == _NULL_SENDER
    if not is_dsn and not from_daemon and not null_sender:
        return ()
    if is_dsn and not _reports_failure(msg):
        return ()
    found: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        headers: Message | None = None
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            headers = payload[0] if isinstance(payload, list) and payload else None
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers"):
            headers = _parse_headers(part)
        if headers is None:
            continue
        for name in ("Message-ID", "Original-Message-ID"):
            for mid in message_ids(header_text(headers, name)):
                if mid not in found:
                    found.append(mid)
    return tuple(found)


def reporting_mta(msg: Message) -> str | None:
    """The host a delivery report names as its author (`Reporting-MTA: dns; mx.example.com`)."""
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        first = blocks[0] if isinstance(blocks, list) and blocks else None
        value = header_text(first, "Reporting-MTA") if isinstance(first, Message) else None
        host = (value or "").rpartition(";")[2].strip().strip(".")
        return host if "." in host else None
    return None


def _reports_failure(msg: Message) -> bool:
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            return True
        actions = [(header_text(b, "Action") or "").strip().lower() for b in blocks]
        actions = [a for a in actions if a]
        # No Action field at all: a sloppy report; believe the report-type.
        return not actions or "failed" in actions
    return True


def _parse_headers(part: Message) -> Message | None:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return BytesHeaderParser(policy=default_policy).parsebytes(data)
    text = part.get_payload()
    if isinstance(text, str):
        return HeaderParser(policy=default_policy).parsestr(text)
    return None
