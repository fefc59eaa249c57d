"""The IMAP connector against a real Dovecot on loopback, inside the real hub."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from connectors.email.errors import MailParseError
from connectors.email.imap_session import ImapSession
from connectors.email.inbound import to_inbound
from connectors.email.parse import parse_mail
from hub.app import Hub
from hub.store.schema import leases, messages, quarantine
from tests.dovecot import Dovecot
from tests.imap_support import (
    acks_sent,
    checkpoint_at,
    connector_running,
    count_at_least,
    imap_config,
    inbound_count,
    mail,
    wait_until,
)
from tests.support import ROOT, SmtpSink, hub_running, hub_url, pg_database, require_postgresql

CORPORA = ROOT.parent / "shared" / "corpora" / "email"


async def test_mail_in_dovecot_becomes_ticket_and_is_acknowledged(
    storage_url: str, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    user = dovecot.new_user()
    dovecot.append(user, mail(1, sender="ann@example.com"))
    async with hub_running(imap_config(storage_url, smtp, dovecot, user)) as hub:
        await wait_until(count_at_least(hub, 1))
        async with hub.store.read() as conn:
            row = (await conn.execute(select(messages).where(messages.c.direction == "in"))).one()
        acks = await smtp.wait_for(1)
    assert (row.channel, row.external_id, row.sender) == (
        "email",
        "<order-1@example.com>",
        "ann@example.com",
    )
    assert row.subject == "Order 1 is late" and row.ticket_id is not None
    assert row.body_text == "Hello, order 1 has not arrived yet."
    assert acks[0]["To"] == "Ann Customer <ann@example.com>"
    assert acks[0]["Auto-Submitted"] == "auto-replied"
    with dovecot.client(user) as client:
        client.select_folder("INBOX")
        assert b"\\Seen" in client.get_flags([1])[1]  # after_import: seen, after the commit


async def test_restart_imports_nothing_twice(
    tmp_path: Any, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    user = dovecot.new_user()
    dovecot.append(user, mail(1), mail(2))
    config = imap_config(url, smtp, dovecot, user, after_import="leave")
    async with hub_running(config) as hub:
        await wait_until(count_at_least(hub, 2))
        await wait_until(acks_sent(hub, 2))
    async with hub_running(config) as hub:
        dovecot.append(user, mail(3))
        await wait_until(count_at_least(hub, 3))
        await smtp.wait_for(3)
        # A marker, read after the others: when its acknowledgement arrives, anything
        # imported or acknowledged twice would have come before it.
        await marker_is_last(hub, smtp, dovecot, user, 4)
        assert await inbound_count(hub) == 4
    assert len(smtp.messages) == 4


async def marker_is_last(hub: Hub, smtp: SmtpSink, dovecot: Dovecot, user: str, n: int) -> None:
    """Mail `n` goes in after the others; once it is imported and acknowledged, nothing
    came twice before it: it is message `n` and its acknowledgement mail `n`."""
    dovecot.append(user, mail(n))
    await wait_until(count_at_least(hub, n))
    mails = await smtp.wait_for(n)
    assert len(mails) == n
    assert mails[-1]["To"].addresses[0].addr_spec == f"customer{n}@example.com"


async def test_uidvalidity_change_rereads_without_duplicates(
    tmp_path: Any, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    user = dovecot.new_user()
    dovecot.append(user, mail(1), mail(2))
    config = imap_config(url, smtp, dovecot, user, after_import="leave")
    async with hub_running(config) as hub:
        await wait_until(count_at_least(hub, 2))
        await wait_until(acks_sent(hub, 2))
    dovecot.set_uidvalidity(user, 777)
    async with hub_running(config) as hub:
        dovecot.append(user, mail(3))
        await wait_until(count_at_least(hub, 3))

        assert (await wait_until(checkpoint_at(hub, 3, 777)))["last_uid"] == 3
        assert await inbound_count(hub) == 3
        await smtp.wait_for(3)
        await marker_is_last(hub, smtp, dovecot, user, 4)
        assert await inbound_count(hub) == 4
    assert len(smtp.messages) == 4


async def test_dovecot_restart_during_idle_reconnects(
    tmp_path: Any, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    user = dovecot.new_user()
    dovecot.append(user, mail(1))
    # A poll interval far beyond the test: only IDLE push can bring mail 2 in time.
    config = imap_config(url, smtp, dovecot, user, poll_interval_seconds=3600)
    async with hub_running(config) as hub:
        await wait_until(count_at_least(hub, 1))
        await asyncio.sleep(0.3)  # the connector is in IDLE now
        await asyncio.to_thread(dovecot.stop)
        await asyncio.to_thread(dovecot.start)
        dovecot.append(user, mail(2))
        await wait_until(count_at_least(hub, 2), timeout=20)
        assert hub.supervisors["inbox"].status.state == "running"


async def test_idle_push_arrives_without_polling(
    tmp_path: Any, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    user = dovecot.new_user()
    config = imap_config(url, smtp, dovecot, user, poll_interval_seconds=3600)
    async with hub_running(config) as hub:
        await wait_until(lambda: connector_running(hub))
        await asyncio.sleep(0.3)
        dovecot.append(user, mail(1))
        # Polling is an hour away: only IDLE's push can bring it in time.
        await wait_until(count_at_least(hub, 1), timeout=15)


def test_mail_announced_as_idle_starts_is_news(dovecot: Dovecot) -> None:
    """Mail that came after our last command is announced in the packet that carries
    Dovecot's "+ idling"; it is news at once, not at the next IDLE renewal."""
    user = dovecot.new_user()
    dovecot.append(user, mail(1))
    session = ImapSession("127.0.0.1", dovecot.port, "none", user, "secret", timeout=5)
    session.connect()
    try:
        session.select("INBOX")
        dovecot.append(user, mail(2))
        # Without the news, IDLE would sit out its 30 s here.
        assert session.idle_until_news(30.0, 0.5, lambda: False)
    finally:
        session.logout()


async def test_bad_password_disables_the_connector(
    tmp_path: Any, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    user = dovecot.new_user()
    config = imap_config(url, smtp, dovecot, user, password="wrong")
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:

        async def disabled() -> Any:
            async with http.get(hub_url(hub, "/healthz")) as resp:
                health = await resp.json()
            state = health["connectors"]["inbox"]
            return state if state["state"] == "disabled" else None

        state = await wait_until(disabled)
    assert "authentication failed" in state["error"]
    assert "wrong" not in state["error"]


async def test_unparseable_mail_is_quarantined_and_the_next_is_imported(
    tmp_path: Any, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    user = dovecot.new_user()
    garbage = bytes(b for b in range(1, 32) if b not in (10, 13)) * 40
    dovecot.append(user, garbage, b"Subject: nobody sent this\r\n\r\nno sender\r\n", mail(1))
    async with hub_running(imap_config(url, smtp, dovecot, user)) as hub:
        await wait_until(checkpoint_at(hub, 3))
        assert await inbound_count(hub) == 1
        async with hub.store.read() as conn:
            rows = (await conn.execute(select(quarantine).order_by(quarantine.c.external_id))).all()
    assert [r.external_id.split(":")[1] for r in rows] == ["1", "2"]
    assert rows[0].raw == garbage and "binary data" in rows[0].reason
    assert "no sender address" in rows[1].reason
    assert rows[0].meta["folder"] == "INBOX" and rows[0].meta["uid"] == 1


async def test_every_corpus_mail_becomes_a_message_or_a_quarantine_entry(
    tmp_path: Any, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    user = dovecot.new_user()
    files = sorted((CORPORA / "cpython").glob("msg_*.txt")) + sorted(
        (CORPORA / "stalwart").glob("*/*.eml")
    )
    assert len(files) == 81
    raws = [f.read_bytes() for f in files]
    dovecot.append(user, *raws)
    with dovecot.client(user) as client:
        client.select_folder("INBOX")
        stored = client.fetch(client.search(["ALL"]), ["BODY.PEEK[]"])
        uidvalidity = client.folder_status("INBOX", ["UIDVALIDITY"])[b"UIDVALIDITY"]
    async with hub_running(imap_config(url, smtp, dovecot, user)) as hub:
        await wait_until(checkpoint_at(hub, len(files)), timeout=30)
        async with hub.store.read() as conn:
            ids = set((await conn.execute(select(messages.c.external_id))).scalars())
            held = {r.external_id: r.reason for r in (await conn.execute(select(quarantine))).all()}
    outcomes = {"message": 0, "quarantine": 0}
    for uid, data in sorted(stored.items()):
        key = f"{uidvalidity}:{uid}"
        if key in held:
            assert held[key].strip(), key
            outcomes["quarantine"] += 1
            continue
        try:
            expected_id = to_inbound(parse_mail(data[b"BODY[]"]), "inbox").external_id
        except MailParseError as exc:
            pytest.fail(f"uid {uid} neither quarantined nor ingested: {exc}")
        assert expected_id in ids, uid
        outcomes["message"] += 1
    print(f"corpus through Dovecot: {outcomes}")
    # Measured: 50 become messages; the 31 others have no sender address (Dovecot's broken
    # MIME fragments, CPython's headerless parts) or are not mail at all. (49 and 32 before
    # a bounce without a usable From, CPython's msg_43, was read as the bounce it is.)
    assert outcomes == {"message": 50, "quarantine": 31}


async def test_one_mailbox_is_read_by_one_hub_at_a_time(smtp: SmtpSink, dovecot: Dovecot) -> None:
    await require_postgresql()
    user = dovecot.new_user()
    async with pg_database() as url:
        config = imap_config(url, smtp, dovecot, user, lease_seconds=3)

        def holder_is(hub: Hub) -> Callable[[], Any]:
            async def check() -> bool:
                async with hub.store.read() as conn:
                    holder = (
                        await conn.execute(
                            select(leases.c.holder).where(leases.c.name == "inbox:mailbox:INBOX")
                        )
                    ).scalar()
                return holder == hub.instance_id

            return check

        async with contextlib.AsyncExitStack() as first_hub, contextlib.AsyncExitStack() as stack:
            first = await first_hub.enter_async_context(hub_running(config))
            await wait_until(holder_is(first))
            second = await stack.enter_async_context(hub_running(config))
            await wait_until(lambda: connector_running(second))
            dovecot.append(user, mail(1))
            await wait_until(count_at_least(first, 1))
            assert await holder_is(first)()
            # The first hub shuts down and lets go: the second takes over and reads on.
            await first_hub.aclose()
            await wait_until(holder_is(second), timeout=10)
            dovecot.append(user, mail(2))
            await wait_until(count_at_least(second, 2))
            assert await inbound_count(second) == 2


async def test_readyz_waits_for_the_imap_connector_while_healthz_stays_live(
    tmp_path: Any, smtp: SmtpSink, dovecot: Dovecot
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    user = dovecot.new_user()
    await asyncio.to_thread(dovecot.stop)
    started = False
    try:
        async with hub_running(imap_config(url, smtp, dovecot, user)) as hub:
            async with aiohttp.ClientSession() as http:

                async def answers(path: str) -> tuple[int, dict[str, Any]]:
                    async with http.get(hub_url(hub, path)) as resp:
                        return resp.status, await resp.json()

                # The mailbox cannot be reached: the hub lives, but is not ready.
                status, body = await answers("/readyz")
                assert status == 503 and body["connectors"]["inbox"]["state"] != "running"
                status, body = await answers("/healthz")
                assert status == 200 and body["storage"] == "ok"

                await asyncio.to_thread(dovecot.start)
                started = True

                async def ready() -> bool:
                    status, _ = await answers("/readyz")
                    return status == 200

                await wait_until(ready, timeout=60)
                assert hub.supervisors["inbox"].status.state == "running"
    finally:
        if not started:  # the other tests share this server
            await asyncio.to_thread(dovecot.start)
