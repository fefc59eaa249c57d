"""Support mail as real helpdesks receive it, in the shapes that once went wrong (issue 13):
a Google Group relaying a customer's mail, a bounce without From, a system notification
from a no-reply address, an Outlook picture named only in Content-Type.

Written after real mail: the header sets are those Google Groups, Postfix and Outlook write.
"""

from __future__ import annotations

GROUP = "support@googlegroups.com"


def google_group_mail(
    n: int,
    *,
    x_original_sender: bool = True,
    via: bool = True,
    date: str = "Mon, 2 Mar 2026 10:15:00 +0100",
) -> bytes:
    """Jane's mail as a Google Group delivers it under DMARC: From rewritten to the group,
    the author in Reply-To and X-Original-Sender, the list headers of any group."""
    name = "'Jane Doe' via Support" if via else "Support"
    original = "X-Original-Sender: jane@example.com\r\n" if x_original_sender else ""
    return (
        f"Return-Path: <support+bncBC@googlegroups.com>\r\n"
        f"Received: by mail-sor-f69.google.com with SMTP id a1sor{n}\r\n"
        f"From: {name} <{GROUP}>\r\n"
        f"To: Support <{GROUP}>\r\n"
        f"Reply-To: Jane Doe <jane@example.com>\r\n"
        f"Subject: Order {n} never arrived\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: <CAgroup{n}@mail.example.com>\r\n"
        f"MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=UTF-8\r\n"
        f"{original}"
        f"X-Original-Authentication-Results: mx.google.com; dmarc=pass header.from=example.com\r\n"
        f"Precedence: list\r\n"
        f"Mailing-list: list {GROUP}; contact support+owners@googlegroups.com\r\n"
        f"List-ID: <support.googlegroups.com>\r\n"
        f"X-Google-Group-Id: 123456789\r\n"
        f"List-Post: <https://groups.google.com/group/support/post>, <mailto:{GROUP}>\r\n"
        f"List-Help: <https://support.google.com/a/users/answer/9308783>\r\n"
        f"List-Archive: <https://groups.google.com/group/support/>\r\n"
        f"List-Unsubscribe: <mailto:support+unsubscribe@googlegroups.com>\r\n"
        f"\r\n"
        f"Hello, order {n} has not arrived yet.\r\n"
    ).encode()


def list_relay_mail(n: int) -> bytes:
    """A group that writes only X-Original-Sender (and its own Reply-To), no list headers:
    the mail that used to make the group the customer and acknowledge the whole group."""
    return (
        f"From: Support Group <{GROUP}>\r\n"
        f"To: helpdesk@example.org\r\n"
        f"Reply-To: Support Group <{GROUP}>\r\n"
        f"X-Original-Sender: jane@example.com\r\n"
        f"Subject: Order {n} never arrived\r\n"
        f"Message-ID: <relay{n}@mail.example.com>\r\n"
        f"\r\n"
        f"Hello, order {n} has not arrived yet.\r\n"
    ).encode()


def fromless_bounce(returned_message_id: str, n: int = 1) -> bytes:
    """A Postfix delivery report with no From at all (some relays strip it): only the
    null Return-Path and the report itself say what it is."""
    return (
        f"Return-Path: <>\r\n"
        f"To: helpdesk@example.org\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <bounce{n}@mx.example.net>\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="B{n}"\r\n'
        f"\r\n"
        f"--B{n}\r\n"
        f"Content-Type: text/plain\r\n"
        f"\r\n"
        f"I'm sorry to have to inform you that your message could not be delivered.\r\n"
        f"--B{n}\r\n"
        f"Content-Type: message/delivery-status\r\n"
        f"\r\n"
        f"Reporting-MTA: dns; mx.example.net\r\n"
        f"\r\n"
        f"Final-Recipient: rfc822; gone@example.net\r\n"
        f"Action: failed\r\n"
        f"Status: 5.1.1\r\n"
        f"--B{n}\r\n"
        f"Content-Type: text/rfc822-headers\r\n"
        f"\r\n"
        f"From: helpdesk@example.org\r\n"
        f"To: gone@example.net\r\n"
        f"Subject: Re: your request\r\n"
        f"Message-ID: {returned_message_id}\r\n"
        f"--B{n}--\r\n"
    ).encode()


def no_reply_notification(sender: str, n: int = 1) -> bytes:
    """A system notification: no Auto-Submitted, no Precedence, no List-* headers."""
    return (
        f"From: Calendar <{sender}>\r\n"
        f"To: helpdesk@example.org\r\n"
        f"Subject: Invitation: Weekly sync {n}\r\n"
        f"Message-ID: <notice{n}@calendar.example.com>\r\n"
        f"\r\n"
        f"You have been invited to an event.\r\n"
    ).encode()


def outlook_picture_mail(disposition: str) -> bytes:
    """Outlook's pasted picture: named in Content-Type, Content-Disposition without a name."""
    return (
        "From: Ann <ann@example.com>\r\n"
        "To: helpdesk@example.org\r\n"
        "Subject: Screenshot of the error\r\n"
        "Message-ID: <pic1@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="P"\r\n'
        "\r\n"
        "--P\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "See the screenshot.\r\n"
        "--P\r\n"
        'Content-Type: image/jpeg;\r\n\tname="image001.jpg"\r\n'
        "Content-Description: image001.jpg\r\n"
        f"Content-Disposition: {disposition}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "/9j/4AAQSkZJRgABAQEAYABgAAD/2wBD\r\n"
        "--P--\r\n"
    ).encode()
