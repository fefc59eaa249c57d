"""The web chat end to end: a real hub, real WebSocket clients speaking the widget's protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from connectors.webchat.visitor import sign_visitor
from hub.messages import Address, InboundMessage
from hub.store.schema import customers, identities, messages, tickets
from tests.support import hub_running, hub_url
from tests.webchat_support import (
    ORIGIN,
    chat_config,
    open_tab,
    queue_agent_reply,
    socket_url,
    wait_sent,
)


async def _inbound(hub: Any) -> list[Any]:
    async with hub.store.read() as conn:
        return list(
            (
                await conn.execute(
                    select(messages)
                    .where(messages.c.direction == "in", messages.c.channel == "webchat")
                    .order_by(messages.c.id)
                )
            ).all()
        )


async def test_visitor_message_becomes_a_ticket_message_of_a_webchat_customer(
    tmp_path: Path,
) -> None:
    async with hub_running(chat_config(tmp_path)) as hub, open_tab(hub) as tab:
        assert tab.welcome["new"] is True and tab.welcome["history"] == []
        # Asking for a person hands over: the bot opens a ticket and says so, live.
        ack = await tab.say(
            "I want to talk to a person about order 1234",
            email=" Ann@Example.COM ",
            phone="01712-345678",
            name="Ann",
        )
        ack_reply = await tab.next(lambda f: f["type"] == "message" and f["dir"] == "out")
        rows = await _inbound(hub)
        async with hub.store.read() as conn:
            ids = {
                (r.kind, r.value)
                for r in await conn.execute(
                    select(identities).where(identities.c.customer_id == rows[0].customer_id)
                )
            }
    assert ack["type"] == "ack" and ack["duplicate"] is False
    assert ack["ticket"] == f"T-{rows[0].ticket_id}"
    assert [(r.external_id, r.body_text, r.sender) for r in rows] == [
        (f"{tab.visitor}:{ack['id']}", "I want to talk to a person about order 1234", tab.visitor)
    ]
    assert ids == {
        ("webchat", tab.visitor),
        ("email", "ann@example.com"),
        ("phone", "+8801712345678"),
    }
    assert ack["ticket"] in ack_reply["text"]


async def test_a_resend_after_reconnecting_is_one_message(tmp_path: Path) -> None:
    async with hub_running(chat_config(tmp_path)) as hub:
        async with open_tab(hub) as tab:
            first = await tab.say("Is the teapot in stock?", client_id="resend-me-1")
        # The connection dropped before the widget saw an ack: it sends the same id again.
        async with open_tab(hub, tab.token) as again:
            second = await again.say("Is the teapot in stock?", client_id="resend-me-1")
            history = again.welcome["history"]
        rows = await _inbound(hub)
    assert first["duplicate"] is False and second["duplicate"] is True
    assert second["message"] == first["message"] and second["ticket"] == first["ticket"]
    assert len(rows) == 1
    assert [h["text"] for h in history if h["dir"] == "in"] == ["Is the teapot in stock?"]


async def test_reload_shows_history_and_agent_replies_reach_every_open_tab(
    tmp_path: Path,
) -> None:
    async with hub_running(chat_config(tmp_path)) as hub:
        async with open_tab(hub) as tab:
            ack = await tab.say("Hello, I need help with my kurta.")
            acknowledgement = await tab.next(lambda f: f["type"] == "message")
        ticket_id = int(ack["ticket"].removeprefix("T-"))

        async with open_tab(hub, tab.token) as one, open_tab(hub, tab.token) as two:
            reloaded = one.welcome
            outbox_id = await queue_agent_reply(hub, tab.visitor, "It ships tomorrow.", ticket_id)
            live = [await one.reply("It ships tomorrow."), await two.reply("It ships tomorrow.")]
            sent = await wait_sent(hub, outbox_id)

        # Nobody is connected: the reply is kept, and shown from the history next time.
        later = await queue_agent_reply(hub, tab.visitor, "It has shipped.", ticket_id)
        await wait_sent(hub, later)
        async with open_tab(hub, tab.token) as back:
            history = back.welcome["history"]

    assert reloaded["new"] is False and reloaded["token"] == tab.token
    assert [(h["dir"], h["text"]) for h in reloaded["history"]] == [
        ("in", "Hello, I need help with my kurta."),
        ("out", acknowledgement["text"]),
    ]
    assert live[0]["id"] == live[1]["id"] and live[0]["dir"] == "out"
    assert sent.remote_id.startswith("webchat:")
    assert [h["text"] for h in history][-2:] == ["It ships tomorrow.", "It has shipped."]


# Tokens a visitor might present that are not theirs: (name, make(ann's visitor id, key)).
FORGERIES: list[tuple[str, Callable[[str, bytes], str | None]]] = [
    ("absent", lambda visitor, key: None),
    ("empty", lambda visitor, key: ""),
    ("garbage", lambda visitor, key: "not a token"),
    ("unsigned", lambda visitor, key: visitor),
    ("bad mac", lambda visitor, key: f"{visitor}.{'A' * 43}"),
    ("other key", lambda visitor, key: sign_visitor(b"some other key", "chat", visitor)),
    ("other connector", lambda visitor, key: sign_visitor(key, "another-chat", visitor)),
    ("flipped", lambda visitor, key: sign_visitor(key, "chat", visitor)[:-1] + "x"),
    ("extended", lambda visitor, key: sign_visitor(key, "chat", visitor) + "A"),
]


async def test_a_forged_or_absent_token_gets_a_new_visitor_never_anothers_history(
    tmp_path: Path,
) -> None:
    seen: dict[str, tuple[bool, list[Any], str]] = {}
    async with hub_running(chat_config(tmp_path)) as hub:
        async with open_tab(hub) as ann:
            await ann.say("My address is 12 Road 5, Dhanmondi.")
        for name, forge in FORGERIES:
            async with open_tab(hub, forge(ann.visitor, hub.secret)) as intruder:
                seen[name] = (
                    intruder.welcome["new"],
                    intruder.welcome["history"],
                    intruder.visitor,
                )
                await intruder.say(f"I am {name}")
        rows = await _inbound(hub)
    for name, (new, history, visitor) in seen.items():
        assert (name, new, history) == (name, True, [])
        assert visitor != ann.visitor
    # Every intruder is a customer of their own.
    assert len({r.customer_id for r in rows}) == len(FORGERIES) + 1


async def test_a_handshake_from_an_unlisted_origin_is_refused(tmp_path: Path) -> None:
    refused: dict[str | None, int] = {}
    async with hub_running(chat_config(tmp_path)) as hub, aiohttp.ClientSession() as session:
        for origin in (
            None,
            "https://evil.example",
            "http://shop.example",
            "https://shop.example.evil.test",
            "null",
        ):
            with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
                await session.ws_connect(
                    socket_url(hub), headers={"Origin": origin} if origin else {}
                )
            refused[origin] = exc.value.status
        # The listed origin, and the hub's own pages (the demo), may connect.
        for ok in (ORIGIN, hub_url(hub, "").rstrip("/")):
            async with open_tab(hub, origin=ok) as tab:
                assert tab.welcome["new"] is True
        # The widget itself is served to any page.
        async with session.get(hub_url(hub, "/channels/chat/widget.js")) as script:
            body = await script.text()
    assert set(refused.values()) == {403}
    assert script.status == 200 and script.content_type == "text/javascript"
    assert "innerHTML" not in body


async def test_an_oversize_message_gets_an_error_and_nothing_is_stored(tmp_path: Path) -> None:
    async with hub_running(chat_config(tmp_path)) as hub, open_tab(hub) as tab:
        assert tab.welcome["max_chars"] == 4000
        too_long = await tab.say("x" * 4001)
        empty = await tab.say(" \n\t ")
        stored_before = len(await _inbound(hub))
        at_limit = await tab.say("y" * 4000)
        rows = await _inbound(hub)
    assert (too_long["type"], too_long["code"]) == ("error", "too_long")
    assert (empty["type"], empty["code"]) == ("error", "empty")
    assert stored_before == 0
    assert at_limit["type"] == "ack" and [len(r.body_text) for r in rows] == [4000]


@pytest.mark.parametrize("per", ["visitor", "ip"])
async def test_sending_too_fast_gets_a_rate_limit_error(tmp_path: Path, per: str) -> None:
    limits = (
        {"visitor_burst": 3, "visitor_messages_per_minute": 1}
        if per == "visitor"
        else {"ip_burst": 3, "ip_messages_per_minute": 1}
    )
    async with hub_running(chat_config(tmp_path, **limits)) as hub:
        async with open_tab(hub) as first, open_tab(hub) as second:
            # Per visitor: one visitor's fourth message; per IP: two visitors share one IP.
            senders = [first] * 4 if per == "visitor" else [first, second, first, second]
            results = [await tab.say(f"message {i}") for i, tab in enumerate(senders)]
        rows = await _inbound(hub)
    assert [r["type"] for r in results] == ["ack", "ack", "ack", "error"]
    assert results[3]["code"] == "rate_limited" and results[3]["retry_after"] >= 1
    assert [r.body_text for r in rows] == ["message 0", "message 1", "message 2"]


async def test_commands_language_and_contact_details(tmp_path: Path) -> None:
    async with hub_running(chat_config(tmp_path)) as hub:
        async with open_tab(hub, language="bn-BD") as tab:
            start = await tab.say("", client_id="start", command="start")
            human = await tab.say("", command="human")
            bad = await tab.say("hi", command="delete-everything")
            await tab.ws.send_json({"type": "identify", "email": "ann@@x", "phone": "12"})
            refused = await tab.next(lambda f: f["type"] == "error")
            await tab.ws.send_json({"type": "identify", "email": "Ann@X.org", "name": " Ann  B "})
            identified = await tab.next(lambda f: f["type"] == "identified")
        async with open_tab(hub, tab.token) as back:
            history = back.welcome["history"]
        rows = await _inbound(hub)
        async with hub.store.read() as conn:
            locale = (
                await conn.execute(
                    select(customers.c.locale).where(customers.c.id == rows[0].customer_id)
                )
            ).scalar_one()
    assert start["type"] == human["type"] == "ack"
    assert (bad["type"], bad["code"]) == ("error", "invalid")
    assert [(r.body_text, r.meta, r.language) for r in rows] == [
        ("/start", {"command": "start"}, "bn"),
        ("I would like to talk to a person.", {"command": "human"}, None),
    ]
    assert locale == "bn"
    assert set(refused["fields"]) == {"email", "phone"}
    assert identified == {
        "type": "identified",
        "name": "Ann B",
        "email": "ann@x.org",
        "phone": None,
    }
    # The widget's own /start is not shown back to the visitor.
    assert [h["text"] for h in history if h["dir"] == "in"] == ["I would like to talk to a person."]


async def test_an_agent_reply_through_the_api_is_live_and_a_scheduled_one_waits(
    tmp_path: Path,
) -> None:
    auth = {"Authorization": "Bearer test-token-0123456789"}
    async with hub_running(chat_config(tmp_path)) as hub, aiohttp.ClientSession() as http:
        async with open_tab(hub) as tab:
            ack = await tab.say("Can I talk to a person?", command="human")
            await tab.next(lambda f: f["type"] == "message")  # the acknowledgement
            reply_url = hub_url(hub, f"/api/v1/tickets/{ack['ticket'][2:]}/reply")
            later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
            async with http.post(
                reply_url, json={"text": "Tomorrow morning, then.", "send_at": later}, headers=auth
            ) as scheduled:
                assert scheduled.status == 202, await scheduled.text()
            async with http.post(reply_url, json={"text": "Hi, I'm Rina."}, headers=auth) as now:
                assert now.status == 202, await now.text()
            live = await tab.next(lambda f: f["type"] == "message")
        async with open_tab(hub, tab.token) as back:
            history = [h["text"] for h in back.welcome["history"]]
    assert live["text"] == "Hi, I'm Rina."
    # A reply scheduled for later is not shown before its time, live or in the history.
    assert history[-1] == "Hi, I'm Rina." and "Tomorrow morning, then." not in history


async def test_stop_in_the_chat_records_the_opt_out(tmp_path: Path) -> None:
    from hub.store.schema import consents

    async with hub_running(chat_config(tmp_path)) as hub, open_tab(hub) as tab:
        ack = await tab.say("/stop")
        reply = await tab.next(lambda f: f["type"] == "message" and f["dir"] == "out")
        async with hub.store.read() as conn:
            rows = (await conn.execute(select(consents))).all()
    assert ack["type"] == "ack" and ack["ticket"] is None
    assert "no more greetings" in reply["text"]
    assert [(r.channel, r.status, r.source) for r in rows] == [
        ("webchat", "opt_out", "chat command /stop")
    ]


async def test_message_after_end_in_the_same_group_commit_opens_a_new_ticket(
    tmp_path: Path,
) -> None:
    """/end and the visitor's next words can reach the single writer together (two tabs):
    the words go to a new ticket, not onto the one /end is closing."""
    visitor = Address("webchat", "v-two-tabs")

    def said(n: int, text: str, command: str | None = None) -> InboundMessage:
        return InboundMessage(
            channel="webchat", connector_id="chat", external_id=f"v-two-tabs:c{n}",
            sender=visitor, text=text, reply_to=visitor,
            meta={"command": command} if command else {},
        )  # fmt: skip

    async with hub_running(chat_config(tmp_path)) as hub:
        first = await hub.pipeline.submit(said(1, "A person, please", "human"))
        # Queued before the writer wakes, so one transaction takes all three in this order.
        _, ended, after = await asyncio.gather(
            hub.pipeline.submit(said(2, "It is order 42")),
            hub.pipeline.submit(said(3, "/end", "end")),
            hub.pipeline.submit(said(4, "Oh, and one more thing")),
        )
        async with hub.store.read() as conn:
            status = dict((await conn.execute(select(tickets.c.id, tickets.c.status))).all())
            on = dict(
                (
                    await conn.execute(
                        select(messages.c.body_text, messages.c.ticket_id).where(
                            messages.c.direction == "in"
                        )
                    )
                ).all()
            )
    first_ticket = first.ticket_id
    assert on["It is order 42"] == on["/end"] == first_ticket is not None
    assert on["Oh, and one more thing"] not in (None, first_ticket)
    assert status == {first_ticket: "closed", on["Oh, and one more thing"]: "new"}
    # What the connector is told matches what was stored: /end is on the ticket it closed.
    assert (ended.ticket_id, ended.ticket_ref) == (first_ticket, first.ticket_ref)
    assert after.ticket_id == on["Oh, and one more thing"]
