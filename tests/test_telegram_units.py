"""The Telegram connector's pure parts: reading updates, locales, splitting replies, config."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.telegram.outgoing import send_method, split_text
from connectors.telegram.updates import (
    BadUpdate,
    ParsedMessage,
    Skipped,
    match_locale,
    parse_update,
)
from hub.config.loader import ConfigError
from hub.core.identity import normalize_phone
from hub.messages import Address
from tests.support import base_config, make_config
from tests.telegram_harness import corpus

LOCALES = ("en", "bn", "pt_BR")


def parse(raw: Any, max_file_bytes: int = 20_000_000) -> ParsedMessage | Skipped:
    return parse_update(
        raw,
        bot_id="123456789",
        bot_username="ChrispressoBot",
        locales=LOCALES,
        max_file_bytes=max_file_bytes,
        normalize_phone=lambda raw: normalize_phone(raw, "BD"),
    )


def message(**fields: Any) -> dict[str, Any]:
    """A current-format update from a user in a private chat, with `fields` in its message."""
    user = {"id": 42, "is_bot": False, "first_name": "Rahim", "language_code": "bn"}
    return {
        "update_id": 900,
        "message": {
            "message_id": 7,
            "date": 1700000000,
            "from": user,
            "chat": {"id": 42, "type": "private", "first_name": "Rahim"},
            **fields,
        },
    }


@pytest.mark.parametrize(
    ("name", "filename", "content_type"),
    [
        ("private/document.json", "document.pdf", "application/pdf"),
        # No name and no type: the extension comes from getFile's path later.
        (
            "private/document_without_mime_type.json",
            "document-documentfileid",
            "application/octet-stream",
        ),
        ("private/photo.json", "photo-photofileid3.jpg", "image/jpeg"),
        ("private/video.json", "video-videofileid.mp4", "video/mp4"),
        ("private/video_without_mime_type.json", "video-videofileid.mp4", "video/mp4"),
        ("private/voice.json", "audio-voicefileid.ogg", "audio/ogg"),
        # Marked animated, so TGS (gzipped Lottie), whatever Zammad's older name said.
        ("private/sticker.json", "HotCherry.tgs", "application/x-tgsticker"),
        ("channel/document.json", "document.pdf", "application/pdf"),
        ("channel/video.json", "video-videofileid.mp4", "video/mp4"),
    ],
)
def test_media_is_named_and_typed(name: str, filename: str, content_type: str) -> None:
    parsed = parse(corpus(name))
    assert isinstance(parsed, ParsedMessage)
    assert [(m.filename, m.content_type) for m in parsed.media] == [(filename, content_type)]


def test_photo_takes_the_largest_size_under_the_cap() -> None:
    raw = corpus("private/photo.json")
    raw["message"]["photo"][2]["file_size"] = 999_999
    parsed = parse(raw, max_file_bytes=500_000)
    assert isinstance(parsed, ParsedMessage)
    assert [m.file_id for m in parsed.media] == ["photofileid2"]


def test_photo_sizes_of_the_wrong_type_count_as_unknown() -> None:
    # Found by the fuzz suite: a list for a size or a width was a TypeError, and a 500 to a
    # correctly signed webhook instead of a stored message.
    raw = corpus("private/photo.json")
    raw["message"]["photo"][0]["file_size"] = [1]
    raw["message"]["photo"][1]["width"] = [1]
    raw["message"]["photo"][2]["height"] = "big"
    parsed = parse(raw)
    assert isinstance(parsed, ParsedMessage)
    assert [m.file_id for m in parsed.media] == ["photofileid1"]


def test_private_message_replies_to_its_chat_in_the_users_language() -> None:
    parsed = parse(message(text="আমার অর্ডার কোথায়?"))
    assert isinstance(parsed, ParsedMessage)
    assert parsed.sender == Address("telegram", "42", "Rahim")
    assert parsed.reply_to == Address("telegram", "42", "Rahim")
    assert parsed.language == "bn"
    assert parsed.external_id == "123456789:42:7:900"
    assert parsed.received_at is not None and parsed.received_at.year == 2023


def test_group_message_is_from_its_sender_and_answered_in_the_group() -> None:
    raw = message(text="Where is my order?")
    raw["message"]["chat"] = {"id": -100200, "type": "supergroup", "title": "Shop customers"}
    parsed = parse(raw)
    assert isinstance(parsed, ParsedMessage)
    assert parsed.sender == Address("telegram", "42", "Rahim")
    assert parsed.reply_to == Address("telegram", "-100200", "Shop customers")
    assert parsed.meta["chat_id"] == -100200
    assert parsed.meta["chat_type"] == "supergroup"
    # The group is the conversation the core threads as one ticket.
    assert parsed.conversation == parsed.reply_to


def test_private_chats_and_channels_are_no_shared_conversation() -> None:
    private = parse(message(text="Hello"))
    channel = parse(corpus("channel/text.json"))
    assert isinstance(private, ParsedMessage) and isinstance(channel, ParsedMessage)
    assert private.conversation is None and channel.conversation is None


@pytest.mark.parametrize(
    ("text", "command", "args"),
    [
        ("/start", "start", None),
        ("/start promo-42", "start", "promo-42"),
        ("/help", "help", None),
        ("/human", "human", None),
        ("/agent please", "human", "please"),
        ("/HELP@ChrispressoBot", "help", None),
        ("/help@SomeOtherBot", None, None),
        ("/unknown", None, None),
        ("help", None, None),
    ],
)
def test_commands_reach_the_core_in_meta(text: str, command: str | None, args: str | None) -> None:
    parsed = parse(message(text=text))
    assert isinstance(parsed, ParsedMessage)
    assert parsed.meta.get("command") == command
    assert parsed.meta.get("command_args") == args
    assert parsed.text == text


def test_shared_own_phone_joins_identities() -> None:
    contact = {"phone_number": "8801712345678", "first_name": "Rahim", "user_id": 42}
    parsed = parse(message(contact=contact))
    assert isinstance(parsed, ParsedMessage)
    assert parsed.identities == (Address("phone", "+8801712345678", "Rahim"),)
    assert "+8801712345678" in parsed.text


def test_someone_elses_contact_card_is_not_the_senders_phone() -> None:
    contact = {"phone_number": "+8801712345678", "first_name": "Karim", "user_id": 77}
    parsed = parse(message(contact=contact))
    assert isinstance(parsed, ParsedMessage)
    assert parsed.identities == ()
    assert "Karim" in parsed.text


def test_location_and_venue_are_kept() -> None:
    location = {"latitude": 23.78, "longitude": 90.41}
    venue = {"location": location, "title": "Shop", "address": "Road 1, Dhaka"}
    for fields in ({"location": location}, {"location": location, "venue": venue}):
        parsed = parse(message(**fields))
        assert isinstance(parsed, ParsedMessage)
        assert parsed.meta["location"] == {"latitude": 23.78, "longitude": 90.41}
        assert "23.78, 90.41" in parsed.text
    assert "Road 1, Dhaka" in parsed.text


@pytest.mark.parametrize(
    "raw",
    [
        corpus("private/my_chat_member.json"),
        message(new_chat_members=[{"id": 5, "is_bot": False, "first_name": "A"}]),
        {"update_id": 3, "callback_query": {"id": "1", "from": {"id": 1}}},
    ],
)
def test_updates_that_are_not_messages_are_skipped(raw: dict[str, Any]) -> None:
    assert isinstance(parse(raw), Skipped)


@pytest.mark.parametrize(
    "raw",
    [[], {"message": {}}, {"update_id": "1"}, {"update_id": 1, "message": {"text": "no chat"}}],
)
def test_unreadable_updates_are_refused(raw: Any) -> None:
    with pytest.raises(BadUpdate):
        parse(raw)


def test_a_message_we_cannot_show_still_reaches_a_person() -> None:
    parsed = parse(message(poll={"id": "1", "question": "?", "options": []}))
    assert isinstance(parsed, ParsedMessage)
    assert parsed.text == "(a Telegram message the hub cannot show: poll)"


@pytest.mark.parametrize(
    ("code", "locale"),
    [
        ("bn", "bn"),
        ("en-US", "en"),
        ("EN", "en"),
        ("pt-br", "pt_BR"),
        ("pt", "pt_BR"),
        ("de", None),
        ("", None),
    ],
)
def test_language_code_maps_to_a_hub_locale(code: str, locale: str | None) -> None:
    assert match_locale(code, LOCALES) == locale


def utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    "text",
    [
        "short",
        "x" * 10_000,
        ("A paragraph of words. " * 60 + "\n\n") * 8,
        ("line of text\n" * 900),
        "😀" * 5000,
        ("word " * 2000).strip(),
    ],
)
def test_split_keeps_every_word_within_4096(text: str) -> None:
    parts = split_text(text)
    assert all(0 < utf16(p) <= 4096 for p in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(
        " ", ""
    )


def test_split_prefers_paragraph_boundaries() -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 300 for i in range(6)]
    parts = split_text("\n\n".join(p.strip() for p in paragraphs))
    assert len(parts) > 1
    assert all(p.startswith("Paragraph") for p in parts)
    assert all(p.endswith("word") for p in parts)


def test_attachments_go_as_photo_or_document() -> None:
    assert send_method("image/jpeg", 1000) == "sendPhoto"
    assert send_method("image/png", 11 * 1024 * 1024) == "sendDocument"
    assert send_method("application/pdf", 1000) == "sendDocument"


def telegram_config(**entry: Any) -> dict[str, Any]:
    data = base_config("sqlite+aiosqlite:///unused.db")
    data["connectors"].append({"id": "tg", "type": "telegram", **entry})
    return data


def test_webhook_mode_needs_a_secret_token() -> None:
    with pytest.raises(ConfigError, match="webhook_secret_token"):
        make_config(telegram_config(bot_token="123:" + "a" * 30, mode="webhook"))


def test_a_malformed_token_is_refused_without_being_printed() -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(telegram_config(bot_token="not-a-token-secret-value"))
    assert "bot_token" in str(caught.value)
    assert "not-a-token-secret-value" not in str(caught.value)


def test_a_good_config_validates() -> None:
    config = make_config(
        telegram_config(
            bot_token="123:" + "a" * 30,
            mode="webhook",
            webhook_secret_token="s" * 32,
            api_url="http://127.0.0.1:9/",
        )
    )
    tg = config.connector("tg")
    assert tg.api_url == "http://127.0.0.1:9"  # type: ignore[attr-defined]
    assert tg.bot_id == "123"  # type: ignore[attr-defined]
