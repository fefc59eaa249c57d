"""The mail real helpdesks see, through a real Dovecot into the real hub (issue 13): a
backlog imported weeks late answers nobody, a group's mail is answered to its author, a
no-reply sender gets a ticket and no answer, a bounce without From marks our mail.

"Nothing else was sent" is shown by a marker: a mail that is answered, appended after the
others; when its acknowledgement is the first mail out, no other came before it, and the
outbox (written in the same transaction as each ticket) holds nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from sqlalchemy import select

from hub.app import Hub
from hub.store.schema import messages, outbox
from tests.dovecot import Dovecot
from tests.email_samples import GROUP, fromless_bounce, google_group_mail, no_reply_notification
from tests.imap_support import count_at_least, imap_config, mail, wait_until
from tests.support import SmtpSink, hub_running

MARKER = "marker@example.com"


async def _inbound(hub: Hub) -> list[Any]:
    async with hub.store.read() as conn:
        query = select(messages).where(messages.c.direction == "in").order_by(messages.c.id)
        return list((await conn.execute(query)).all())


async def _acks(hub: Hub) -> list[Any]:
    async with hub.store.read() as conn:
        query = select(outbox).where(outbox.c.kind == "acknowledgement").order_by(outbox.c.id)
        return list((await conn.execute(query)).all())


async def _only_the_marker_is_answered(hub: Hub, smtp: SmtpSink, total: int) -> None:
    """Call with the marker appended last: it is the one mail answered."""
    await wait_until(count_at_least(hub, total))
    first = (await smtp.wait_for(1))[0]
    assert first["To"] == f"Ann Customer <{MARKER}>"
    assert [a.recipient for a in await _acks(hub)] == [MARKER]


async def test_backlog_weeks_old_opens_tickets_and_answers_only_new_mail(
    storage_url: str, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    user = dovecot.new_user()
    weeks_ago = datetime.now(UTC) - timedelta(weeks=3)
    # Dated weeks ago but moved into the mailbox today (a migration), and arrived weeks ago
    # with no Date at all: either time alone says the mail is old.
    dated = [mail(n, Date=format_datetime(weeks_ago + timedelta(hours=n))) for n in range(1, 4)]
    dovecot.append(user, *dated)
    dovecot.append(user, mail(4), mail(5), arrived=weeks_ago)
    async with hub_running(imap_config(storage_url, smtp, dovecot, user)) as hub:
        await wait_until(count_at_least(hub, 5))
        dovecot.append(user, mail(6, sender=MARKER, Date=format_datetime(datetime.now(UTC))))
        await _only_the_marker_is_answered(hub, smtp, 6)
        rows = await _inbound(hub)
    assert [r.external_id for r in rows] == [f"<order-{n}@example.com>" for n in range(1, 7)]
    assert len({r.ticket_id for r in rows if r.ticket_id is not None}) == 6


async def test_backlog_age_is_configurable(
    storage_url: str, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    user = dovecot.new_user()
    dovecot.append(user, mail(1, sender=MARKER), arrived=datetime.now(UTC) - timedelta(days=3))
    hub_sections = {"replies": {"acknowledge_max_age_hours": 24 * 7}}
    async with hub_running(imap_config(storage_url, smtp, dovecot, user, hub=hub_sections)) as hub:
        await _only_the_marker_is_answered(hub, smtp, 1)


async def test_the_operators_group_mail_is_answered_to_its_author(
    storage_url: str, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    user = dovecot.new_user()
    # Sent now: a group's mail is acknowledged only while it is new, as any other.
    dovecot.append(user, google_group_mail(1, date=format_datetime(datetime.now(UTC))))
    config = imap_config(storage_url, smtp, dovecot, user, groups=[GROUP])
    async with hub_running(config) as hub:
        await wait_until(count_at_least(hub, 1))
        ack = (await smtp.wait_for(1))[0]
        (row,) = await _inbound(hub)
    assert ack["To"] == "Jane Doe <jane@example.com>"
    assert row.sender == "jane@example.com" and row.ticket_id is not None


async def test_no_reply_sender_gets_a_ticket_and_no_answer(
    storage_url: str, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    user = dovecot.new_user()
    dovecot.append(
        user,
        no_reply_notification("calendar-notification-noreply@google.com", 1),
        no_reply_notification("alerts@monitoring.example.com", 2),
        mail(3, sender=MARKER),
    )
    config = imap_config(
        storage_url, smtp, dovecot, user, no_reply_senders=["*@monitoring.example.com"]
    )
    async with hub_running(config) as hub:
        await _only_the_marker_is_answered(hub, smtp, 3)
        rows = await _inbound(hub)
    assert all(r.ticket_id is not None for r in rows)
    assert [r.auto_submitted for r in rows] == [True, True, False]


async def test_bounce_without_from_marks_our_mail_bounced(
    storage_url: str, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    user = dovecot.new_user()
    dovecot.append(user, mail(1, sender="ann@example.com"))
    async with hub_running(imap_config(storage_url, smtp, dovecot, user)) as hub:
        await wait_until(count_at_least(hub, 1))
        ack = (await smtp.wait_for(1))[0]
        dovecot.append(user, fromless_bounce(str(ack["Message-ID"])))
        await wait_until(count_at_least(hub, 2))

        async def bounced() -> bool:
            return [a.status for a in await _acks(hub)] == ["bounced"]

        await wait_until(bounced)
        first, bounce = await _inbound(hub)
    assert bounce.sender == "mailer-daemon@mx.example.net" and bounce.auto_submitted
    assert bounce.ticket_id == first.ticket_id
