"""The Telegram connector in the real hub, against the loopback fake Bot API: webhook
security, polling checkpoints, replies through the outbox, flood control, blocked users."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from hub.channels.supervisor import DISABLED
from hub.messages import Address, Attachment, OutboundMessage
from hub.outbox.enqueue import enqueue_outbound
from hub.store import utcnow
from hub.store.schema import (
    connector_state,
    customers,
    duplicate_suggestions,
    identities,
    outbox,
    quarantine,
)
from tests import telegram_harness
from tests.snapshot import settled_snapshot
from tests.support import hub_url
from tests.telegram_harness import SECRET, TOKEN, Rig, corpus, eventually, telegram_hub

sqlite_url = telegram_harness.sqlite_url

pytestmark = [
    pytest.mark.filterwarnings("ignore:Please use 'Bot.getUpdates':UserWarning"),
    pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning"),
]

WEBHOOK = "/channels/tg/webhook"
# Secret tokens to refuse besides a wrong one: empty, a prefix, the token and more.
BAD_SECRETS = ("", SECRET[:1], SECRET[: len(SECRET) // 2], SECRET + "x", SECRET * 2)


def user_update(update_id: int, **content: Any) -> dict[str, Any]:
    """A current-format private message from user 555, who speaks Bengali."""
    user = {"id": 555, "is_bot": False, "first_name": "Rahim", "language_code": "bn"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1700000000,
            "from": user,
            "chat": {"id": 555, "type": "private", "first_name": "Rahim"},
            **content,
        },
    }


async def post(rig: Rig, body: bytes, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with (
        aiohttp.ClientSession() as http,
        http.post(hub_url(rig.hub, WEBHOOK), data=body, headers=headers) as resp,
    ):
        return resp.status


async def test_bad_or_missing_secret_gets_401_and_nothing_is_stored(sqlite_url: str) -> None:
    body = (telegram_harness.CORPUS / "private" / "text.json").read_bytes()
    async with telegram_hub(sqlite_url, "webhook") as rig:
        assert await post(rig, body, "wrong-secret-0123456789") == 401
        assert await post(rig, body, SECRET[:-1]) == 401
        assert await post(rig, body, None) == 401
        # Empty, a prefix, longer: the whole token is compared, not the part that came.
        for wrong in BAD_SECRETS:
            assert await post(rig, body, wrong) == 401, wrong
        assert await rig.inbound() == []
        async with rig.hub.store.read() as conn:
            assert (await conn.execute(select(quarantine))).all() == []
        assert await post(rig, body, SECRET) == 200
        assert len(await rig.inbound()) == 1
        # On a store that holds data, a refused update adds no row and changes none.
        before = await settled_snapshot(rig.hub.store)
        other = json.dumps(user_update(90, text="Is my order on its way?")).encode()
        for wrong in (*BAD_SECRETS, SECRET[:-1], None):
            assert await post(rig, other, wrong) == 401, wrong
        assert await settled_snapshot(rig.hub.store) == before


async def test_a_blocked_bot_notice_changes_nothing_on_a_store_with_data(sqlite_url: str) -> None:
    """my_chat_member (the user blocked the bot) is acknowledged; nothing of the user's
    customer, ticket or messages already on record is added to or changed."""
    async with telegram_hub(sqlite_url, "webhook") as rig:
        assert await rig.deliver(corpus("private/text.json")) == 200
        before = await settled_snapshot(rig.hub.store)
        assert before["customers"] and before["tickets"] and before["messages"]
        assert await rig.deliver(corpus("private/my_chat_member.json")) == 200
        assert await settled_snapshot(rig.hub.store) == before


async def test_oversized_webhook_body_gets_413(sqlite_url: str) -> None:
    update = user_update(1, text="x" * 20_000)
    async with telegram_hub(sqlite_url, "webhook", connector={"max_body_bytes": 16_384}) as rig:
        assert await rig.api.deliver_webhook(update) == 413
        assert await rig.inbound() == []


async def test_unreadable_update_is_quarantined_and_acknowledged(sqlite_url: str) -> None:
    async with telegram_hub(sqlite_url, "webhook") as rig:
        assert await post(rig, b"{not json", SECRET) == 200
        assert await rig.api.deliver_webhook({"update_id": 77, "message": {"text": "?"}}) == 200
        async with rig.hub.store.read() as conn:
            kept = (await conn.execute(select(quarantine).order_by(quarantine.c.id))).all()
        assert await rig.inbound() == []
    assert kept[0].raw == b"{not json"
    assert kept[1].external_id == "123456789:u77"
    assert "without a chat id" in kept[1].reason


async def test_polling_checkpoints_the_offset_and_resumes_from_it(storage_url: str) -> None:
    async with telegram_hub(storage_url, "polling") as rig:
        await rig.deliver(corpus("private/text.json"))
        async with rig.hub.store.read() as conn:
            saved = (
                await conn.execute(
                    select(connector_state.c.value).where(connector_state.c.key == "poll_offset")
                )
            ).scalar()
    assert saved["offset"] == 6
    # A restarted hub asks Telegram for what comes after the last committed update.
    async with telegram_hub(storage_url, "polling") as rig:
        await eventually(lambda: bool(rig.api.sent("getUpdates")), what="the first getUpdates")
        assert rig.api.sent("getUpdates")[0].params["offset"] == 6
        await rig.deliver(corpus("private/end.json"))
        stored = await rig.inbound()
    assert [m.body_text for m in stored] == ["Hello, I need your Help", "/end"]
    assert len({m.ticket_id for m in stored}) == 1


async def queue_reply(rig: Rig, text: str, to: str = "111111") -> int:
    """Queue a reply as an agent's would be: through the outbox, in a transaction."""
    async with rig.hub.store.write() as conn:
        row_id = await enqueue_outbound(
            conn,
            connector_id="tg",
            ticket_id=None,
            customer_id=None,
            to=Address("telegram", to),
            kind="agent_reply",
            subject=None,
            text=text,
            html=None,
            auto_submitted=False,
            language="en",
            now=utcnow(),
        )
    rig.hub.outbox.wake()
    return row_id


async def outbox_row(rig: Rig, row_id: int) -> Any:
    async with rig.hub.store.read() as conn:
        return (await conn.execute(select(outbox).where(outbox.c.id == row_id))).one()


async def settled(rig: Rig, row_id: int, status: str) -> Any:
    async def reached() -> bool:
        return bool((await outbox_row(rig, row_id)).status == status)

    await eventually(reached, what=f"outbox row {row_id} {status}")
    return await outbox_row(rig, row_id)


def sent_texts(rig: Rig, prefix: str) -> list[Any]:
    return [c for c in rig.api.sent("sendMessage") if c.params["text"].startswith(prefix)]


async def test_agent_reply_goes_to_the_chat_split_at_4096(sqlite_url: str) -> None:
    paragraphs = [
        (f"Paragraph {i}: " + "the parcel is on its way. " * 60).strip() for i in range(6)
    ]
    reply = "\n\n".join(paragraphs)
    assert len(reply) > 2 * 4096
    async with telegram_hub(sqlite_url, "webhook") as rig:
        row = await settled(rig, await queue_reply(rig, reply), "sent")
        sends = sent_texts(rig, "Paragraph")
    assert [c.params["chat_id"] for c in sends] == ["111111"] * 3
    assert all(len(c.params["text"]) <= 4096 for c in sends)
    # Two paragraphs fit in a part, three do not: the cuts fall between paragraphs.
    assert [c.params["text"] for c in sends] == [
        "\n\n".join(paragraphs[i : i + 2]) for i in (0, 2, 4)
    ]
    assert len(row.remote_id.split(",")) == 3


async def test_flood_control_retry_after_is_respected(sqlite_url: str) -> None:
    async with telegram_hub(sqlite_url, "webhook") as rig:
        rig.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        row = await settled(rig, await queue_reply(rig, "Your refund is on its way."), "sent")
        first, second = sent_texts(rig, "Your refund")
    # The outbox waits out RetryLater.seconds; had it tried sooner, the connector would
    # have refused without calling Telegram. Either way Telegram saw nothing before then.
    assert second.at - first.at >= 1.0
    assert row.attempts == 2


async def test_blocked_bot_dead_letters_and_marks_the_user_unreachable(sqlite_url: str) -> None:
    async with telegram_hub(sqlite_url, "webhook") as rig:
        await rig.deliver(corpus("private/text.json"))
        rig.api.blocked_chats.add("111111")
        row = await settled(rig, await queue_reply(rig, "We found your parcel."), "dead")
        async with rig.hub.store.read() as conn:
            unreachable = (
                await conn.execute(
                    select(identities.c.unreachable).where(identities.c.kind == "telegram")
                )
            ).scalar()
        # A blocked chat is not retried.
        assert len(sent_texts(rig, "We found")) == 1
    assert row.attempts == 1
    assert "RecipientUnreachable" in row.last_error
    assert "blocked the bot" in row.last_error
    assert unreachable is True


async def test_rejected_token_disables_the_connector(sqlite_url: str) -> None:
    wrong = TOKEN.replace("TEST", "GONE")
    async with telegram_hub(
        sqlite_url, "polling", connector={"bot_token": wrong}, wait_ready=False
    ) as rig:
        status = rig.hub.supervisors["tg"].status
        await eventually(lambda: status.state == DISABLED, what="the connector disabled")
    assert "rejected the bot token" in (status.last_error or "")
    assert wrong.split(":")[1] not in (status.last_error or "")


async def test_media_over_the_size_cap_are_not_downloaded(sqlite_url: str) -> None:
    undeclared = corpus("private/document.json")
    undeclared["update_id"] = undeclared["message"]["message_id"] = 50
    del undeclared["message"]["document"]["file_size"]
    async with telegram_hub(sqlite_url, "webhook", connector={"max_file_bytes": 20}) as rig:
        # Declared too big: not even asked for.
        assert await rig.deliver(corpus("private/video.json")) == 200
        assert rig.api.sent("getFile") == []
        # Size unknown up front: getFile tells, and the download is skipped.
        assert await rig.deliver(undeclared) == 200
        assert [c.params["file_id"] for c in rig.api.sent("getFile")] == ["documentfileid"]
        assert rig.api.sent("download") == []
        assert len(await rig.inbound()) == 2


async def test_telegram_language_becomes_the_new_customers_locale(sqlite_url: str) -> None:
    # "Hello" alone says nothing of the language; the user's Telegram setting does.
    async with telegram_hub(sqlite_url, "webhook") as rig:
        assert await rig.deliver(user_update(1, text="Hello")) == 200
        (message,) = await rig.inbound()
        async with rig.hub.store.read() as conn:
            locale = (await conn.execute(select(customers.c.locale))).scalar()
    assert message.language == "bn"
    assert locale == "bn"


async def test_shared_phone_meets_the_customers_email_history(sqlite_url: str) -> None:
    contact = {"phone_number": "8801712345678", "first_name": "Rahim", "user_id": 555}
    async with telegram_hub(sqlite_url, "webhook") as rig:
        form = {"email": "rahim@example.com", "phone": "01712345678", "message": "Order 17?"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(hub_url(rig.hub, "/channels/contact/"), json=form) as resp,
        ):
            assert resp.status == 201
        assert await rig.deliver(user_update(2, contact=contact)) == 200
        async with rig.hub.store.read() as conn:
            owners = dict(
                (await conn.execute(select(identities.c.kind, identities.c.customer_id))).all()
            )
    assert owners["telegram"] == owners["email"] == owners["phone"]


async def test_a_known_user_shares_their_phone_and_it_joins_them_never_another(
    sqlite_url: str,
) -> None:
    mine = {"phone_number": "8801712345678", "first_name": "Rahim", "user_id": 555}

    def from_karim(update_id: int, **content: Any) -> dict[str, Any]:
        update = user_update(update_id, **content)
        update["message"]["from"] = {"id": 556, "is_bot": False, "first_name": "Karim"}
        update["message"]["chat"] = {"id": 556, "type": "private", "first_name": "Karim"}
        return update

    async with telegram_hub(sqlite_url, "webhook") as rig:
        assert await rig.deliver(user_update(1, text="Hello")) == 200
        assert await rig.deliver(user_update(2, contact=mine)) == 200
        # A form with the phone (written locally) and an email finds the same person.
        form = {"email": "rahim@example.com", "phone": "01712345678", "message": "Order 17?"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(hub_url(rig.hub, "/channels/contact/"), json=form) as resp,
        ):
            assert resp.status == 201
        # Karim, known here already, later shares the number as his (a recycled one).
        assert await rig.deliver(from_karim(3, text="Hi")) == 200
        assert await rig.deliver(from_karim(4, contact={**mine, "user_id": 556})) == 200
        async with rig.hub.store.read() as conn:
            owners = {
                (kind, value): cid
                for kind, value, cid in await conn.execute(
                    select(identities.c.kind, identities.c.value, identities.c.customer_id)
                )
            }
            flagged = (
                await conn.execute(
                    select(
                        duplicate_suggestions.c.customer_id,
                        duplicate_suggestions.c.other_customer_id,
                    )
                )
            ).all()
    rahim, karim_id = owners[("telegram", "555")], owners[("telegram", "556")]
    assert owners[("phone", "+8801712345678")] == owners[("email", "rahim@example.com")] == rahim
    # The number stays Rahim's; the two are flagged for an agent, not merged silently.
    assert karim_id != rahim
    assert [tuple(sorted(r)) for r in flagged] == [tuple(sorted((rahim, karim_id)))]


async def test_attachments_go_as_photo_and_document_and_a_retry_resends_only_the_rest(
    sqlite_url: str,
) -> None:
    msg = OutboundMessage(
        connector_id="tg",
        to=Address("telegram", "111111"),
        text="Here are the invoice and a photo of the parcel.",
        idempotency_key="reply-with-files-1",
        attachments=(
            Attachment("parcel.jpg", "image/jpeg", b"\xff\xd8\xff parcel"),
            Attachment("invoice.pdf", "application/pdf", b"%PDF-1.4 invoice"),
        ),
    )
    async with telegram_hub(sqlite_url, "webhook") as rig:
        connector = rig.hub.connectors["tg"]
        rig.api.fail_next("sendPhoto", 502, "Bad Gateway")
        # As the outbox calls it: the first try fails after the text went out...
        with pytest.raises(Exception, match="Bad Gateway"):
            await connector.send(msg)
        # ...and the retry (same idempotency key) does not send the text again.
        remote_id = await connector.send(msg)
    assert [c.method for c in rig.api.calls if c.method.startswith("send")] == [
        "sendMessage",
        "sendPhoto",
        "sendPhoto",
        "sendDocument",
    ]
    photo, document = rig.api.sent("sendPhoto")[-1], rig.api.sent("sendDocument")[0]
    assert photo.files["photo"] == ("parcel.jpg", b"\xff\xd8\xff parcel")
    assert document.files["document"] == ("invoice.pdf", b"%PDF-1.4 invoice")
    assert photo.params["chat_id"] == document.params["chat_id"] == "111111"
    assert len(remote_id.split(",")) == 3
