"""Who a mail is from and whether it is answered, for the mail real helpdesks see (issue 13):
group and list mail, bounces without From, no-reply senders, Outlook's picture names."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.email.inbound import to_inbound
from connectors.email.parse import parse_mail
from connectors.email.relay import MailRules
from connectors.email.settings import ImapConfig
from tests.email_samples import (
    GROUP,
    fromless_bounce,
    google_group_mail,
    list_relay_mail,
    no_reply_notification,
    outlook_picture_mail,
)
from tests.support import ROOT

CORPORA = ROOT.parent / "shared" / "corpora" / "email"
OURS = MailRules(groups=frozenset({GROUP}))


def _imap(**settings: Any) -> ImapConfig:
    return ImapConfig.model_validate(
        {"id": "inbox", "type": "imap", "host": "h", "username": "u", "password": "p", **settings}
    )


def test_google_group_mail_is_filed_under_its_author() -> None:
    parsed = parse_mail(google_group_mail(1))
    msg = to_inbound(parsed, "inbox")
    assert (msg.sender.value, msg.sender.display_name) == ("jane@example.com", "Jane Doe")
    assert msg.reply_to is not None and msg.reply_to.value == "jane@example.com"
    assert msg.meta["relayed_by"] == {"name": "'Jane Doe' via Support", "address": GROUP}
    # A group nobody named is still a list: its author is known, but nobody is answered.
    assert msg.auto_submitted and parsed.auto.reason == "Precedence: list"


@pytest.mark.parametrize(
    "raw",
    [google_group_mail(1), google_group_mail(1, x_original_sender=False)],
    ids=["x-original-sender", "via-and-reply-to-only"],
)
def test_the_operators_own_group_is_answered_to_its_author(raw: bytes) -> None:
    msg = to_inbound(parse_mail(raw, rules=OURS), "inbox")
    assert msg.sender.value == "jane@example.com" and not msg.auto_submitted
    assert msg.reply_to is not None and msg.reply_to.value == "jane@example.com"


def test_a_named_group_keeps_auto_submitted_automatic() -> None:
    raw = google_group_mail(1).replace(b"Precedence: list", b"Auto-Submitted: auto-replied")
    parsed = parse_mail(raw, rules=OURS)
    assert parsed.sender is not None and parsed.sender.address == "jane@example.com"
    assert parsed.auto.reason == "Auto-Submitted: auto-replied"


def test_relay_with_the_groups_own_reply_to_answers_the_author() -> None:
    msg = to_inbound(parse_mail(list_relay_mail(1)), "inbox")
    assert msg.sender.value == "jane@example.com" and not msg.auto_submitted
    assert msg.reply_to is not None and msg.reply_to.value == "jane@example.com"


def test_named_groups_are_the_only_relays_believed() -> None:
    rules = MailRules(groups=frozenset({"other-group@example.org"}))
    msg = to_inbound(parse_mail(list_relay_mail(1), rules=rules), "inbox")
    assert msg.sender.value == GROUP and "relayed_by" not in msg.meta


def test_plain_mail_with_reply_to_is_no_relay() -> None:
    raw = (
        b"From: Ann <ann@example.com>\r\nReply-To: Team <team@example.com>\r\n"
        b"Subject: hi\r\n\r\nhello\r\n"
    )
    msg = to_inbound(parse_mail(raw), "inbox")
    assert msg.sender.value == "ann@example.com" and msg.reply_to is not None
    assert msg.reply_to.value == "team@example.com" and "relayed_by" not in msg.meta


def test_bounce_without_from_is_read_as_a_bounce() -> None:
    parsed = parse_mail(fromless_bounce("<ack-7@example.org>"))
    msg = to_inbound(parsed, "inbox")
    assert msg.bounced_message_ids == ("<ack-7@example.org>",)
    assert msg.auto_submitted and msg.sender.value == "MAILER-DAEMON@mx.example.net"


def test_real_bounce_from_an_empty_mailer_daemon_is_read_as_a_bounce() -> None:
    """CPython's corpus: a spam firewall's report with `From: MAILER DAEMON <>`."""
    parsed = parse_mail((CORPORA / "cpython" / "msg_43.txt").read_bytes())
    msg = to_inbound(parsed, "inbox")
    assert msg.bounced_message_ids == ("<edab.7804f5cb8070@python.org>",)
    assert msg.sender.value == "MAILER-DAEMON@sacspam01.dot.ca.gov" and msg.auto_submitted


def test_null_sender_bounce_that_is_no_report_still_names_the_returned_mail() -> None:
    raw = (
        b"Return-Path: <>\r\nTo: helpdesk@example.org\r\nSubject: failure notice\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="X"\r\n\r\n'
        b"--X\r\nContent-Type: text/plain\r\n\r\nSorry, we were unable to deliver.\r\n"
        b"--X\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: helpdesk@example.org\r\nMessage-ID: <ack-8@example.org>\r\n\r\nhi\r\n--X--\r\n"
    )
    msg = to_inbound(parse_mail(raw), "inbox")
    assert msg.bounced_message_ids == ("<ack-8@example.org>",)
    assert msg.sender.value == "MAILER-DAEMON@example.org"


@pytest.mark.parametrize(
    "sender",
    [
        "calendar-notification-noreply@google.com",
        "no_reply@shop.example",
        "no.reply@shop.example",
        "do_not_reply@bank.example",
        "account.no-reply@cloud.example",
    ],
)
def test_no_reply_senders_are_never_answered(sender: str) -> None:
    parsed = parse_mail(no_reply_notification(sender))
    assert parsed.auto.automatic and "takes no replies" in (parsed.auto.reason or "")
    assert to_inbound(parsed, "inbox").auto_submitted


@pytest.mark.parametrize("sender", ["replies@shop.example", "noreplyhere@x.example", "ann@x.io"])
def test_people_whose_address_only_looks_like_it_are_answered(sender: str) -> None:
    assert not parse_mail(no_reply_notification(sender)).auto.automatic


def test_configured_no_reply_patterns_are_never_answered() -> None:
    rules = _imap(no_reply_senders=["*@alerts.example.com", "jira@*"]).mail_rules()
    for sender in ("monitor@ALERTS.example.com", "jira@company.atlassian.net"):
        parsed = parse_mail(no_reply_notification(sender), rules=rules)
        assert parsed.auto.automatic and "no_reply_senders" in (parsed.auto.reason or "")
    assert not parse_mail(no_reply_notification("ann@example.com"), rules=rules).auto.automatic


def test_imap_settings_name_the_groups() -> None:
    rules = _imap(groups=["Support@GoogleGroups.com"]).mail_rules()
    assert rules == MailRules(groups=frozenset({GROUP}))


@pytest.mark.parametrize(
    "disposition",
    ['inline; filename=""', "attachment; filename", "attachment; filename=", "inline"],
)
def test_attachment_named_only_in_content_type_keeps_its_name(disposition: str) -> None:
    parsed = parse_mail(outlook_picture_mail(disposition))
    assert [a.filename for a in parsed.attachments] == ["image001.jpg"]


def test_the_date_header_is_the_messages_sent_time() -> None:
    msg = to_inbound(parse_mail(google_group_mail(1)), "inbox")
    assert msg.sent_at is not None and msg.sent_at.isoformat() == "2026-03-02T10:15:00+01:00"
