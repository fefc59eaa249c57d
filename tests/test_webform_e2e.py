"""A form post becomes a customer, a routed ticket and an acknowledgement over real SMTP."""

from __future__ import annotations

import aiohttp
from sqlalchemy import func, select

from hub.store.schema import customers, identities, messages, tickets
from tests.support import SmtpSink, base_config, hub_running, hub_url, make_config

FORM = "/channels/contact/"


async def post_json(session: aiohttp.ClientSession, url: str, body: dict) -> tuple[int, dict]:
    async with session.post(url, json=body) as resp:
        return resp.status, await resp.json()


async def test_form_post_becomes_routed_ticket_with_english_ack(
    storage_url: str, smtp: SmtpSink
) -> None:
    config = make_config(base_config(storage_url, smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        status, body = await post_json(
            http,
            hub_url(hub, FORM),
            {
                "name": "Ann Smith",
                "email": "ann@example.com",
                "subject": "Wrong invoice",
                "message": "I was charged twice, please refund one invoice.",
                "language": "en",
            },
        )
        assert status == 201
        assert body["ticket"].startswith("T-")
        mails = await smtp.wait_for(1)
        async with hub.store.read() as conn:
            ticket = (await conn.execute(select(tickets))).one()
    assert ticket.team_id == "billing"
    assert ticket.priority == "high"
    mail = mails[0]
    assert mail["To"] == "Ann Smith <ann@example.com>"
    assert mail["From"] == "Example support <support@example.org>"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["Message-ID"].endswith("@example.org>")
    assert mail["Date"]
    assert f"[#{body['ticket']}]" in mail["Subject"]
    assert mail.get_body(("plain",)).get_content().startswith("Hello Ann Smith")
    assert mail.get_body(("html",)) is not None
    assert "Billing" in mail.get_body(("plain",)).get_content()


async def test_bengali_customer_gets_bengali_ack(storage_url: str, smtp: SmtpSink) -> None:
    config = make_config(base_config(storage_url, smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        # No language field: the hub detects Bengali from the text.
        status, _ = await post_json(
            http,
            hub_url(hub, FORM),
            {
                "name": "রহিম",
                "email": "rahim@example.com",
                "message": "আমার অর্ডার এখনো আসেনি, দয়া করে সাহায্য করুন",
            },
        )
        assert status == 201
        mails = await smtp.wait_for(1)
    text = mails[0].get_body(("plain",)).get_content()
    assert "ধন্যবাদ" in text
    assert "আমরা আপনার বার্তা পেয়েছি" in mails[0]["Subject"]


async def test_same_email_differently_written_is_one_customer(
    storage_url: str, smtp: SmtpSink
) -> None:
    config = make_config(base_config(storage_url, smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        s1, b1 = await post_json(
            http, hub_url(hub, FORM), {"email": "ann@example.com", "message": "First question"}
        )
        s2, b2 = await post_json(
            http, hub_url(hub, FORM), {"email": "  Ann@Example.COM ", "message": "Second one"}
        )
        assert (s1, s2) == (201, 201)
        async with hub.store.read() as conn:
            n_customers = (await conn.execute(select(func.count()).select_from(customers))).scalar()
            n_in = (
                await conn.execute(
                    select(func.count()).select_from(messages).where(messages.c.direction == "in")
                )
            ).scalar()
    assert n_customers == 1
    assert n_in == 2
    # The second message threads onto the open ticket.
    assert b1["ticket"] == b2["ticket"]


async def test_bangladeshi_phone_written_three_ways_is_one_customer(
    storage_url: str, smtp: SmtpSink
) -> None:
    config = make_config(base_config(storage_url, smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        for phone in ("+8801712345678", "01712-345678", "+880 1712 345 678"):
            status, body = await post_json(
                http, hub_url(hub, FORM), {"phone": phone, "message": f"Hello from {phone}"}
            )
            assert status == 201, body
        async with hub.store.read() as conn:
            n_customers = (await conn.execute(select(func.count()).select_from(customers))).scalar()
            values = (await conn.execute(select(identities.c.kind, identities.c.value))).all()
    assert n_customers == 1
    assert [tuple(v) for v in values] == [("phone", "+8801712345678")]
    # Phone only: nothing to email the acknowledgement to.
    assert smtp.messages == []


async def test_double_submit_with_idempotency_key_makes_one_ticket(
    storage_url: str, smtp: SmtpSink
) -> None:
    config = make_config(base_config(storage_url, smtp.port))
    body = {"email": "bob@example.com", "message": "Hello", "idempotency_key": "abc123-xyz789"}
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        s1, b1 = await post_json(http, hub_url(hub, FORM), body)
        s2, b2 = await post_json(http, hub_url(hub, FORM), body)
        await smtp.wait_for(1)
        async with hub.store.read() as conn:
            n_tickets = (await conn.execute(select(func.count()).select_from(tickets))).scalar()
    assert (s1, s2) == (201, 200)
    assert b2["duplicate"] is True and b1["ticket"] == b2["ticket"]
    assert n_tickets == 1
    assert len(smtp.messages) == 1
