"""What the hub does with Telegram messages beyond receiving them: commands, media, a
group chat as one conversation, and a store outage."""

from __future__ import annotations

from typing import Any

import aiohttp
import asyncpg
import pytest
from sqlalchemy import select

from hub.store.schema import attachments, identities, messages, tickets
from tests import telegram_harness
from tests.support import PG_DSN, hub_url
from tests.telegram_harness import corpus, telegram_hub

# base_config's API token.
API_TOKEN = "test-token-0123456789"

sqlite_url = telegram_harness.sqlite_url

pytestmark = [
    pytest.mark.filterwarnings("ignore:Please use 'Bot.getUpdates':UserWarning"),
]


async def test_start_is_greeted_without_opening_a_ticket(sqlite_url: str) -> None:
    async with telegram_hub(sqlite_url, "webhook") as rig:
        assert await rig.deliver(corpus("private/start.json")) == 200
        (stored,) = await rig.inbound()
        assert stored.meta["command"] == "start"
        (greeting,) = await rig.api.wait_for("sendMessage", 1)
        assert greeting.params["chat_id"] == "111111"
        async with rig.hub.store.read() as conn:
            opened = (await conn.execute(select(tickets))).all()
    assert opened == []


async def test_end_closes_the_ticket(sqlite_url: str) -> None:
    async with telegram_hub(sqlite_url, "webhook") as rig:
        await rig.deliver(corpus("private/text.json"))
        await rig.deliver(corpus("private/end.json"))
        assert (await rig.inbound())[-1].meta["command"] == "end"
        async with rig.hub.store.read() as conn:
            (ticket,) = (await conn.execute(select(tickets))).all()
    assert ticket.status == "closed"


async def test_media_are_stored_as_attachments(sqlite_url: str) -> None:
    big_video = corpus("private/video.json")
    big_video["message"]["video"]["file_size"] = 300_000
    async with telegram_hub(sqlite_url, "webhook", connector={"max_file_bytes": 200_000}) as rig:
        await rig.deliver(corpus("private/document.json"))
        await rig.deliver(big_video)
        assert len(rig.api.sent("download")) == 1
        async with rig.hub.store.read() as conn:
            rows = (await conn.execute(select(attachments).order_by(attachments.c.id))).all()
    assert [(r.filename, r.content_type) for r in rows] == [
        ("document.pdf", "application/pdf"),
        ("video-videofileid.mp4", "video/mp4"),
    ]
    assert rows[0].content == b"%PDF-1.4 a small document"
    assert rows[1].content is None
    assert "limit" in rows[1].dropped_reason


def group_update(update_id: int, user_id: int, name: str, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1700000000,
            "from": {"id": user_id, "is_bot": False, "first_name": name},
            "chat": {"id": -100777, "type": "supergroup", "title": "Shop customers"},
            "text": text,
        },
    }


def private_update(update_id: int, user_id: int, name: str, text: str) -> dict[str, Any]:
    update = group_update(update_id, user_id, name, text)
    update["message"]["chat"] = {"id": user_id, "type": "private", "first_name": name}
    return update


async def test_a_group_chat_is_one_conversation(storage_url: str) -> None:
    async with telegram_hub(storage_url, "webhook") as rig:
        await rig.deliver(private_update(1, 601, "Ann", "/start"))
        await rig.deliver(group_update(2, 601, "Ann", "/help"))
        # /human: the group's ticket opens whatever the FAQ would make of the words.
        await rig.deliver(group_update(3, 602, "Bob", "/human Our orders 17 and 18 are late"))
        await rig.deliver(group_update(4, 601, "Ann", "Same for me"))
        # Ann's private chat is hers alone: not the group's ticket.
        await rig.deliver(private_update(5, 601, "Ann", "/human About my own refund"))
        stored = await rig.inbound()
        assert [m.sender for m in stored] == ["601", "601", "602", "601", "601"]
        async with rig.hub.store.read() as conn:
            opened = (await conn.execute(select(tickets).order_by(tickets.c.id))).all()
            owners = dict(
                (await conn.execute(select(identities.c.value, identities.c.customer_id))).all()
            )
            said = (
                await conn.execute(
                    select(messages.c.ticket_id, messages.c.body_text)
                    .where(messages.c.direction == "out")
                    .order_by(messages.c.id)
                )
            ).all()
        assert len(opened) == 2
        group, own = opened
        ann, bob = owners["601"], owners["602"]
        # The group's ticket is the customer's who opened it; each message stays its sender's.
        assert (group.customer_id, own.customer_id) == (bob, ann)
        assert [(m.ticket_id, m.customer_id) for m in stored] == [
            (own.id, ann),
            (group.id, ann),
            (group.id, bob),
            (group.id, ann),
            (own.id, ann),
        ]
        # What the bot said before the hand-over joins the ticket of the chat it was said in.
        assert [t for t, _ in said] == [own.id, group.id, group.id, own.id]
        # An agent's answer goes to the group, where everyone in it reads it.
        async with (
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_TOKEN}"}) as http,
            http.post(
                hub_url(rig.hub, f"/api/v1/tickets/{group.id}/reply"),
                json={"text": "Both orders ship today."},
            ) as resp,
        ):
            assert resp.status == 202, await resp.text()
            assert (await resp.json())["recipient"] == "-100777"
        sent = await rig.api.wait_for("sendMessage", 5)
        # Anyone in the group may end its conversation; Ann's own stays open.
        await rig.deliver(group_update(6, 602, "Bob", "/end"))
        async with rig.hub.store.read() as conn:
            statuses = (await conn.execute(select(tickets.c.status).order_by(tickets.c.id))).all()
    by_chat = sorted((c.params["chat_id"], c.params["text"]) for c in sent)
    assert [chat for chat, _ in by_chat] == ["-100777"] * 3 + ["601"] * 2
    assert ("-100777", "Both orders ship today.") in by_chat
    assert [s for (s,) in statuses] == ["closed", "new"]


async def test_store_outage_answers_503_and_the_redelivery_is_stored(pg_url: str) -> None:
    url = pg_url
    async with telegram_hub(url, "webhook") as rig:
        name = url.rsplit("/", 1)[1]
        admin = await asyncpg.connect(PG_DSN)
        try:
            # The database goes away under the running hub.
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
            assert await rig.deliver(corpus("private/text.json")) == 503
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
        # Telegram offers the update again; now it is stored, once.
        assert await rig.deliver(corpus("private/text.json")) == 200
        assert [m.body_text for m in await rig.inbound()] == ["Hello, I need your Help"]
