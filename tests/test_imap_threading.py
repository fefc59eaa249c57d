"""Threading and loop guards end to end: mail appended to Dovecot, read by the hub's IMAP
connector, acknowledged through a real SMTP peer (aiosmtpd); replies are built from the
acknowledgement the peer received, the way mail clients build them."""

from __future__ import annotations

import copy
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select

from hub.app import Hub
from hub.store.schema import messages, outbox, tickets
from tests.dovecot import Dovecot
from tests.imap_support import count_at_least, imap_config, mail, wait_until
from tests.support import SmtpSink, hub_running

ANN = "ann@example.com"


def reply(
    sender: str,
    message_id: str,
    subject: str,
    text: str,
    **headers: str,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@example.org"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(text)
    return bytes(msg).replace(b"\n", b"\r\n")


def quoted(ack: EmailMessage) -> str:
    body = str(ack.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    return "\n".join(f"> {line}" for line in body.splitlines())


async def ticket_of(hub: Hub) -> dict[str, Any]:
    """Each inbound message's (ticket id, ticket customer's email) by its Message-ID."""
    async with hub.store.read() as conn:
        rows = await conn.execute(
            select(messages.c.external_id, messages.c.ticket_id, messages.c.sender)
            .where(messages.c.direction == "in")
        )  # fmt: skip
        return {r.external_id: (r.ticket_id, r.sender) for r in rows}


async def acknowledged(hub: Hub) -> list[str]:
    async with hub.store.read() as conn:
        rows = await conn.execute(
            select(outbox.c.recipient).where(outbox.c.kind == "acknowledgement")
        )
        return sorted(r.recipient for r in rows)


async def test_replies_thread_by_each_hint_and_never_onto_a_strangers_ticket(
    storage_url: str, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    user = dovecot.new_user()
    dovecot.append(user, mail(1, sender=ANN))
    async with hub_running(imap_config(storage_url, smtp, dovecot, user)) as hub:
        await wait_until(count_at_least(hub, 1))
        (ack,) = await smtp.wait_for(1)
        ack_id, ack_subject = str(ack["Message-ID"]), str(ack["Subject"])
        ticket = (await ticket_of(hub))["<order-1@example.com>"][0]
        token = f"[#T-{ticket}]"
        assert token in ack_subject and f"[ref:T-{ticket}." in quoted(ack)
        plain_subject = "Re: Order 1 is late"
        history = f"On Monday, Example support wrote:\n{quoted(ack)}\n"
        replies = {
            "in-reply-to": reply(
                ANN, "<r1@example.com>", plain_subject, "It is the blue kettle.",
                In_Reply_To=ack_id,
            ),
            "references only": reply(
                ANN, "<r2@example.com>", plain_subject, "Any news?",
                References=f"<order-1@example.com> {ack_id}",
            ),
            # Outlook drops In-Reply-To and References, keeps Thread-Index and quotes the
            # whole message under a header block.
            "outlook": reply(
                ANN, "<r3@example.com>", f"RE: {ack_subject}",
                "Here is my order number.\n\n-----Original Message-----\n"
                f"From: Example support <support@example.org>\nSubject: {ack_subject}\n\n"
                + str(ack.get_body(("plain",)).get_content()),  # type: ignore[union-attr]
                Thread_Topic=ack_subject, Thread_Index="AQHZ1234567890abcdef==",
            ),
            # The provider rewrote our Message-ID, so In-Reply-To names an id we never
            # sent; the subject lost its token. Only the marker in the quote is left.
            "marker": reply(
                ANN, "<r4@example.com>", plain_subject, f"Still waiting.\n\n{history}",
                In_Reply_To="<AM0PR01MB1234.rewritten@eurprd01.prod.outlook.com>",
            ),
            "subject token": reply(
                ANN, "<r5@example.com>", f"One more question {token}", "Can I pay by card?"
            ),
            # Bob got the thread forwarded and answers it with a topic of his own: every
            # hint names Ann's ticket, none of them is his.
            "stranger": reply(
                "Bob <bob@example.net>", "<r6@example.net>", f"Re: {ack_subject}",
                f"My own order 7 is missing too.\n\n{history}",
                In_Reply_To=ack_id, References=f"<order-1@example.com> {ack_id}",
            ),
            # Ann, no hint at all: a new topic is a new ticket (so the above are not
            # landing on her ticket just because she is the sender).
            "new topic": reply(ANN, "<r7@example.com>", "Question about invoices", "Hi."),
        }  # fmt: skip
        dovecot.append(user, *replies.values())
        await wait_until(count_at_least(hub, 1 + len(replies)))
        landed = await ticket_of(hub)
        acks = await smtp.wait_for(3)
        async with hub.store.read() as conn:
            # Whose ticket: the customer of the message that opened it.
            owner = dict(
                (
                    await conn.execute(
                        select(tickets.c.id, messages.c.sender)
                        .join(messages, messages.c.customer_id == tickets.c.customer_id)
                        .where(messages.c.direction == "in")
                        .distinct()
                    )
                ).all()
            )
            n_tickets = (await conn.execute(select(func.count()).select_from(tickets))).scalar()
        assert sorted(await acknowledged(hub)) == [ANN, ANN, "bob@example.net"]

    by_kind = {kind: landed[f"<r{n}@{'example.net' if kind == 'stranger' else 'example.com'}>"][0]
               for n, kind in enumerate(replies, start=1)}  # fmt: skip
    for kind in ("in-reply-to", "references only", "outlook", "marker", "subject token"):
        assert by_kind[kind] == ticket, kind
    assert by_kind["stranger"] != ticket and owner[by_kind["stranger"]] == "bob@example.net"
    assert by_kind["new topic"] not in (ticket, by_kind["stranger"])
    assert n_tickets == 3
    # Replies threaded onto a ticket are not acknowledged again; the two new tickets are.
    assert len(acks) == 3
    assert {a["To"].addresses[0].addr_spec for a in acks[1:]} == {ANN, "bob@example.net"}


def dsn(n: int) -> bytes:
    """A delivery status report (RFC 3464) from a mailer-daemon about one of our mails."""
    report = EmailMessage()
    report["From"] = f"Mail Delivery System <MAILER-DAEMON@mx{n}.example.net>"
    report["To"] = "support@example.org"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Message-ID"] = f"<dsn-{n}@mx{n}.example.net>"
    report.set_content("Your message could not be delivered.\n")
    report.make_mixed()
    raw = bytes(report).decode()
    boundary = report.get_boundary()
    status = (
        "Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
        "Final-Recipient: rfc822; gone@example.com\nAction: failed\nStatus: 5.1.1\n"
    )
    original = "Content-Type: message/rfc822\n\n" + mail(999).decode().replace("\r\n", "\n")
    raw = raw.replace("multipart/mixed", "multipart/report; report-type=delivery-status", 1)
    end = f"--{boundary}--"
    raw = raw.replace(end, f"--{boundary}\n{status}\n--{boundary}\n{original}\n{end}")
    return raw.replace("\n", "\r\n").encode()


LOOP_HEADERS: dict[str, dict[str, str]] = {
    "auto-replied": {"Auto-Submitted": "auto-replied"},
    "auto-generated": {"Auto-Submitted": "auto-generated"},
    "precedence bulk": {"Precedence": "bulk"},
    "precedence list": {"Precedence": "list"},
    "precedence junk": {"Precedence": "junk"},
    "suppress": {"X-Auto-Response-Suppress": "OOF, AutoReply"},
    "list-id": {"List-Id": "Shop news <news.shop.example>"},
    "list-unsubscribe": {"List-Unsubscribe": "<mailto:unsubscribe@shop.example>"},
}


async def test_automatic_mail_becomes_a_ticket_message_but_gets_no_acknowledgement(
    storage_url: str, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    user = dovecot.new_user()
    raws = [mail(100 + n, sender=f"auto{n}@example.com", **headers)
            for n, headers in enumerate(LOOP_HEADERS.values())]  # fmt: skip
    raws += [
        mail(200, sender="MAILER-DAEMON@mx1.example.net"),
        mail(201, sender="postmaster@mx2.example.net"),
        dsn(3),
        # A person's mail saying "Auto-Submitted: no" is answered, as the control.
        mail(202, sender="person@example.com", **{"Auto-Submitted": "no"}),
    ]
    dovecot.append(user, *raws)
    async with hub_running(imap_config(storage_url, smtp, dovecot, user)) as hub:
        await wait_until(count_at_least(hub, len(raws)))
        (ack,) = await smtp.wait_for(1)
        assert await acknowledged(hub) == ["person@example.com"]
        # Our own acknowledgement comes back (a forwarding loop that also stripped its
        # Auto-Submitted): its Message-ID is ours, so it is not answered.
        looped = copy.deepcopy(ack)
        for name in ("Auto-Submitted", "X-Auto-Response-Suppress"):
            del looped[name]
        dovecot.append(user, looped.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        await wait_until(count_at_least(hub, len(raws) + 1))
        landed = await ticket_of(hub)
        assert await acknowledged(hub) == ["person@example.com"]
        async with hub.store.read() as conn:
            automatic = dict(
                (
                    await conn.execute(select(messages.c.external_id, messages.c.auto_submitted))
                ).all()
            )
    assert str(ack["Message-ID"]) in landed
    assert all(ticket is not None for ticket, _ in landed.values()), landed
    assert [mid for mid, auto in automatic.items() if not auto] == ["<order-202@example.com>",
                                                                    str(ack["Message-ID"])]  # fmt: skip
    assert len(smtp.messages) == 1


async def test_fifty_mails_from_one_address_in_a_minute_trip_the_breaker(
    tmp_path: Any, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    user = dovecot.new_user()
    limit = 5
    config = imap_config(
        url, smtp, dovecot, user,
        hub={"replies": {"max_auto_replies_per_recipient": limit, "auto_reply_window_minutes": 1}},
    )  # fmt: skip
    # Another responder answering each of our acknowledgements with a new mail.
    dovecot.append(user, *(mail(300 + n, sender="responder@example.com") for n in range(50)))
    async with hub_running(config) as hub:
        await wait_until(count_at_least(hub, 50))
        assert await acknowledged(hub) == ["responder@example.com"] * limit
        await smtp.wait_for(limit)
        async with hub.store.read() as conn:
            n_tickets = (await conn.execute(select(func.count()).select_from(tickets))).scalar()
    assert n_tickets == 50
    assert len(smtp.messages) == limit


async def test_a_reply_to_a_solved_ticket_opens_it_again(
    storage_url: str, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    user = dovecot.new_user()
    dovecot.append(user, mail(1, sender=ANN))
    async with hub_running(imap_config(storage_url, smtp, dovecot, user)) as hub:
        await wait_until(count_at_least(hub, 1))
        (ack,) = await smtp.wait_for(1)
        ticket = (await ticket_of(hub))["<order-1@example.com>"][0]
        async with hub.store.write() as conn:
            await conn.execute(
                tickets.update().where(tickets.c.id == ticket).values(status="solved")
            )
        dovecot.append(
            user,
            reply(ANN, "<r1@example.com>", "Re: Order 1 is late", "It came back broken.",
                  In_Reply_To=str(ack["Message-ID"])),
        )  # fmt: skip
        await wait_until(count_at_least(hub, 2))
        async with hub.store.read() as conn:
            status = (
                await conn.execute(select(tickets.c.status).where(tickets.c.id == ticket))
            ).scalar_one()
        landed = await ticket_of(hub)
    assert landed["<r1@example.com>"][0] == ticket
    assert status == "open"
