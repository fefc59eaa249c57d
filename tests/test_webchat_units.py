"""The web chat's pure parts: tokens, locales, frames, rate buckets, what history shows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.webchat.errors import FrameError
from connectors.webchat.protocol import (
    START_TEXT,
    Contact,
    parse_contact,
    parse_message,
)
from connectors.webchat.sessions import Sessions, Socket, visible_history
from connectors.webchat.settings import WebChatConfig
from connectors.webchat.visitor import (
    VISITOR_ID,
    match_locale,
    new_visitor_id,
    sign_visitor,
    verify_token,
)
from hub.core.identity import normalize_email, normalize_phone
from hub.core.ratelimit import TokenBuckets

KEY = b"k" * 32


def test_a_signed_token_names_its_visitor_and_nothing_else_does() -> None:
    visitor = new_visitor_id()
    token = sign_visitor(KEY, "chat", visitor)
    assert VISITOR_ID.match(visitor) and verify_token(KEY, "chat", token) == visitor
    other = new_visitor_id()
    for forged in [
        None,
        42,
        "",
        visitor,
        f"{visitor}.",
        f"{other}.{token.split('.')[1]}",  # someone else's id under this mac
        sign_visitor(b"x" * 32, "chat", visitor),
        sign_visitor(KEY, "chat2", visitor),
        token.upper(),
        token + "=",
        "x" * 200,
    ]:
        assert verify_token(KEY, "chat", forged) is None, forged
    assert verify_token(b"", "chat", token) is None
    with pytest.raises(ValueError):
        sign_visitor(b"", "chat", visitor)


@pytest.mark.parametrize(
    ("language", "locales", "expected"),
    [
        ("bn-BD", ("en", "bn"), "bn"),
        ("bn", ("en", "bn"), "bn"),
        ("en-US", ("en", "bn"), "en"),
        ("pt-BR", ("en", "pt_BR", "pt"), "pt_BR"),
        ("pt-PT", ("en", "pt_BR"), "pt_BR"),
        ("fr-FR", ("en", "bn"), None),
        ("", ("en",), None),
        (None, ("en",), None),
        (7, ("en",), None),
    ],
)
def test_browser_language_maps_to_a_hub_locale(
    language: Any, locales: tuple[str, ...], expected: str | None
) -> None:
    assert match_locale(language, locales) == expected


def _message(data: dict[str, Any], max_chars: int = 40) -> Any:
    # In the connector's order: a frame's contact fields are checked before its text.
    parse_contact(data, normalize_email, lambda raw: normalize_phone(raw, "BD"))
    return parse_message({"type": "message", **data}, max_chars)


@pytest.mark.parametrize(
    ("frame", "text", "command"),
    [
        ({"id": "a1", "text": "  hi\r\nthere \x00"}, "hi\nthere", None),
        ({"id": "a1", "text": "x" * 40}, "x" * 40, None),
        ({"id": "a1", "text": "  " + "x" * 40 + "  "}, "x" * 40, None),
        ({"id": "start", "text": "ignored", "command": "start"}, START_TEXT, "start"),
        (
            {"id": "a1", "text": "", "command": "human"},
            "I would like to talk to a person.",
            "human",
        ),
        ({"id": "a1", "text": "Please, a person", "command": "human"}, "Please, a person", "human"),
    ],
)
def test_message_frames_are_cleaned(frame: dict[str, Any], text: str, command: str | None) -> None:
    msg = _message(frame)
    assert (msg.text, msg.command) == (text, command)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"text": "hi"}, "invalid"),
        ({"id": "has space", "text": "hi"}, "invalid"),
        ({"id": "x" * 65, "text": "hi"}, "invalid"),
        ({"id": "a1", "text": 5}, "invalid"),
        ({"id": "a1", "text": "hi", "command": "drop"}, "invalid"),
        ({"id": "a1", "text": " \n "}, "empty"),
        ({"id": "a1", "text": "x" * 41}, "too_long"),
        ({"id": "a1", "text": "x" * 10_000}, "too_long"),
        ({"id": "a1", "text": "hi", "email": "not-an-email"}, "invalid_contact"),
        ({"id": "a1", "text": "hi", "phone": "12"}, "invalid_contact"),
        ({"id": "a1", "text": "hi", "name": ["Ann"]}, "invalid_contact"),
    ],
)
def test_bad_message_frames_are_refused_with_a_code(frame: dict[str, Any], code: str) -> None:
    with pytest.raises(FrameError) as refused:
        _message(frame)
    assert refused.value.code == code
    assert refused.value.frame()["type"] == "error"


def test_contact_details_are_normalized() -> None:
    contact = parse_contact(
        {"name": "  Ann   Smith ", "email": "Ann@Example.COM", "phone": "01712 345678"},
        normalize_email,
        lambda raw: normalize_phone(raw, "BD"),
    )
    assert contact == Contact("Ann Smith", "ann@example.com", "+8801712345678")


def test_token_buckets_refill_and_stay_bounded() -> None:
    now = [0.0]
    buckets = TokenBuckets(per_minute=60, burst=2, clock=lambda: now[0], max_keys=3)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]
    now[0] = 1.0
    assert buckets.take("a") == 0.0
    buckets.give_back("a")
    assert buckets.take("a") == 0.0
    for key in "bcdef":
        buckets.take(key)
    assert len(buckets) == 3


@dataclass
class Item:
    message_id: int
    direction: str
    text: str
    status: str | None = None
    created_at: datetime = datetime(2025, 1, 1, tzinfo=UTC)
    kind: str | None = None


def test_history_shows_sent_replies_and_pending_ones_just_pushed() -> None:
    items = [
        Item(1, "in", START_TEXT),
        Item(2, "in", "hello"),
        Item(3, "out", "Thanks, T-1", "sent"),
        Item(4, "out", "Later today", "pending"),  # scheduled by an agent: not yet
        Item(5, "out", "On its way", "pending"),  # pushed a moment ago, not marked yet
        Item(6, "out", "Bounced", "dead"),
    ]
    frames = visible_history(items, Counter({"On its way": 1}))
    assert [(f["id"], f["dir"], f["text"]) for f in frames] == [
        ("m2", "in", "hello"),
        ("m3", "out", "Thanks, T-1"),
        ("m5", "out", "On its way"),
    ]
    assert frames[0]["at"] == "2025-01-01T00:00:00Z"


async def test_a_push_reaches_every_tab_and_is_remembered_for_the_next_one() -> None:
    now = [0.0]
    sessions = Sessions(clock=lambda: now[0])
    one, two, other = Socket("v1", "ip"), Socket("v1", "ip"), Socket("v2", "ip")
    for sock in (one, two, other):
        sessions.attach(sock, [])
    frame = {"type": "message", "id": "k1", "dir": "out", "text": "On its way"}
    assert sessions.deliver("v1", frame) == 2
    assert one.queue.get_nowait() == two.queue.get_nowait() == frame and other.queue.empty()
    sessions.detach(one)
    sessions.detach(one)  # twice is harmless
    assert (sessions.count("v1"), sessions.count_ip("ip"), sessions.total) == (1, 2, 2)

    # A tab that read the history while the reply was still pending shows it once.
    pending = [Item(9, "out", "On its way", "pending")]
    assert [f["id"] for f in sessions.attach(Socket("v1", "ip"), pending)] == ["m9"]
    now[0] = 61.0  # a minute later a pending reply is not one being sent right now
    assert sessions.attach(Socket("v1", "ip"), pending) == []


def test_allowed_origins_are_checked_and_normalized() -> None:
    config = WebChatConfig(
        id="chat", type="webchat", allowed_origins=["https://Shop.Example/", "http://[::1]:8080"]
    )
    assert config.allowed_origins == ("https://shop.example", "http://[::1]:8080")
    for bad in ["shop.example", "https://shop.example/path", "*", "ftp://shop.example"]:
        with pytest.raises(ValidationError):
            WebChatConfig(id="chat", type="webchat", allowed_origins=[bad])
