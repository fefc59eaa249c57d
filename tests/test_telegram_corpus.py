"""Every update in ../shared/corpora/telegram, by webhook and by polling, through the real
hub: the outcome ../shared/corpora/telegram/EXPECTED.yml describes, in our terms.

Zammad's "ticket with one article" is our ticket with one inbound message; its article
attachments are files the connector fetched through getFile and the file download. What
the core does with commands (/start greets, /end closes) is tested in test_telegram.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from hub.store.schema import customers, outbox, tickets
from tests import telegram_harness
from tests.snapshot import settled_snapshot
from tests.telegram_harness import BOT2, Rig, corpus, corpus_names, telegram_hub

sqlite_url = telegram_harness.sqlite_url

pytestmark = pytest.mark.filterwarnings("ignore:Please use 'Bot.getUpdates':UserWarning")


@dataclass(frozen=True)
class Outcome:
    files: tuple[str, ...]
    # Bodies of the inbound messages stored, in order (none: acknowledged, not stored).
    texts: tuple[str, ...]
    sender: str | None = None
    # The ticket's subject, where the first message opens one with a title.
    subject: str | None = None
    # Telegram file ids fetched as attachments.
    fetched: tuple[str, ...] = ()
    # The command the last message carries for the core (meta["command"]).
    command: str | None = None
    bot: str = "tg"


USER = "Test Firstname Test Lastname"
HELP = "Hello, I need your Help"
CASES = {
    "private/start": Outcome(("private/start.json",), ("/start",), USER, command="start"),
    "private/text": Outcome(("private/text.json",), (HELP,), USER, HELP),
    "private/text-then-end": Outcome(
        ("private/text.json", "private/end.json"), (HELP, "/end"), USER, HELP, command="end"
    ),
    "private/document": Outcome(
        ("private/document.json",), ("",), USER, fetched=("documentfileid",)
    ),
    "private/document_without_mime_type": Outcome(
        ("private/document_without_mime_type.json",), ("",), USER, fetched=("documentfileid",)
    ),
    "private/photo": Outcome(
        ("private/photo.json",),
        ("caption 123<b>abc</b>",),
        USER,
        "caption 123<b>abc</b>",
        fetched=("photofileid3",),
    ),
    "private/video": Outcome(("private/video.json",), ("",), USER, fetched=("videofileid",)),
    "private/video_without_mime_type": Outcome(
        ("private/video_without_mime_type.json",), ("",), USER, fetched=("videofileid",)
    ),
    "private/sticker": Outcome(
        ("private/sticker.json",), ("😄",), USER, "😄", fetched=("stickerfileid",)
    ),
    "private/voice": Outcome(("private/voice.json",), ("",), USER, fetched=("voicefileid",)),
    # The user blocked the bot: nothing a person wrote, acknowledged and not stored.
    "private/my_chat_member": Outcome(("private/my_chat_member.json",), ()),
    "private/second-bot": Outcome(
        ("private/start2.json", "private/text2.json"),
        ("/start", "Can you help me with my feature?"),
        "Test Firstname2 Test Lastname2",
        bot=BOT2.connector_id,
    ),
    "channel/start": Outcome(("channel/start.json",), ("/start",), "Bot Channel", command="start"),
    "channel/text": Outcome(("channel/text.json",), (HELP,), "ZBotChannel", HELP),
    "channel/text-then-end": Outcome(
        ("channel/text.json", "channel/end.json"),
        (HELP, "/end"),
        "ZBotChannel",
        HELP,
        command="end",
    ),
    "channel/document": Outcome(
        ("channel/document.json",), ("",), "Bot Channel", fetched=("documentfileid",)
    ),
    "channel/photo": Outcome(
        ("channel/photo.json",), ("",), "Bot Channel", fetched=("photofileid3",)
    ),
    "channel/sticker": Outcome(
        ("channel/sticker.json",), ("😄",), "Bot Channel", "😄", fetched=("stickerfileid",)
    ),
    "channel/video": Outcome(
        ("channel/video.json",), ("caption",), "Bot Channel", "caption", fetched=("videofileid",)
    ),
    "channel/voice": Outcome(
        ("channel/voice.json",), ("",), "Bot Channel", fetched=("voicefileid",)
    ),
}


def test_the_table_covers_every_corpus_update() -> None:
    covered = {f for case in CASES.values() for f in case.files}
    assert covered == set(corpus_names())


@pytest.mark.parametrize("mode", ["webhook", "polling"])
@pytest.mark.parametrize("case", sorted(CASES))
async def test_corpus_update_gives_expected_outcome(case: str, mode: str, sqlite_url: str) -> None:
    expect = CASES[case]
    bots = (BOT2,) if expect.bot == BOT2.connector_id else None
    async with telegram_hub(sqlite_url, mode, **({"bots": bots} if bots else {})) as rig:
        for name in expect.files:
            assert await rig.deliver(corpus(name), expect.bot) == 200, name
        stored = await rig.inbound()
        async with rig.hub.store.read() as conn:
            ticket_rows = (await conn.execute(select(tickets))).all()
            names = (await conn.execute(select(customers.c.display_name))).scalars().all()
    api = rig.apis[expect.bot]

    assert tuple(m.body_text for m in stored) == expect.texts
    assert all(m.connector_id == expect.bot and m.channel == "telegram" for m in stored)
    assert len({m.external_id for m in stored}) == len(stored)
    if stored:
        assert list(names) == [expect.sender]
        assert len({m.meta["chat_id"] for m in stored}) == 1
        assert stored[-1].meta.get("command") == expect.command
    # Where Zammad opens a ticket (anything but a command), so do we, titled the same; what
    # a command does to tickets (/start opens none, /end closes) is the core's part.
    ticketed = [m for m in stored if "command" not in m.meta]
    if ticketed:
        (ticket,) = ticket_rows
        assert {m.ticket_id for m in ticketed} == {ticket.id}
        assert ticket.subject == (expect.subject or ticketed[0].subject)
    if not stored:
        assert ticket_rows == []
    assert [c.params["file_id"] for c in api.sent("getFile")] == list(expect.fetched)
    assert len(api.sent("download")) == len(expect.fetched)


@pytest.mark.parametrize("mode", ["webhook", "polling"])
async def test_repeated_update_is_one_message(storage_url: str, mode: str) -> None:
    update = corpus("private/text.json")
    async with telegram_hub(storage_url, mode) as rig:
        if mode == "webhook":
            assert await rig.deliver(update) == 200
            answers = await queued(rig)
            first = await settled_snapshot(rig.hub.store)
            assert await rig.deliver(update) == 200
            # Whatever the hub answered the first time, it does not answer again.
            assert await queued(rig) == answers
            # Nor does the replay add or change a row anywhere.
            assert await settled_snapshot(rig.hub.store) == first
        else:
            # Telegram offers an unconfirmed update again: here twice in one batch.
            await rig.push_and_wait(rig.api, [update, update])
        stored = await rig.inbound()
    assert [m.body_text for m in stored] == ["Hello, I need your Help"]


async def queued(rig: Rig) -> int:
    async with rig.hub.store.read() as conn:
        return len((await conn.execute(select(outbox.c.id))).all())
