"""The survey's pure parts: tokens and signed button payloads, the config section, the
page's language, the widget's choice frames, the Meta and Telegram renderings."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from connectors.meta.choices import whatsapp_interactive
from connectors.telegram.callbacks import parse_callback
from connectors.webchat.errors import FrameError
from connectors.webchat.protocol import parse_message
from hub.config.loader import ConfigError, parse_config
from hub.messages import Choice
from hub.surveys.tokens import (
    choice_payload,
    is_survey_choice,
    new_token,
    read_choice,
    token_hash,
    well_formed,
)
from hub.web.survey_texts import texts_for
from tests.support import REGISTRY, base_config

SECRET = b"k" * 32


def test_tokens_are_128_bit_random_and_kept_only_as_sha256() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200 and all(well_formed(t) for t in tokens)
    token = next(iter(tokens))
    assert len(token_hash(token)) == 64 and token not in token_hash(token)
    assert not well_formed("short") and not well_formed(token + "x")


@pytest.mark.parametrize("survey_id", [1, 42, 10**17])
@pytest.mark.parametrize("rating", [1, 3, 5])
def test_a_signed_payload_reads_back_and_fits_telegram(survey_id: int, rating: int) -> None:
    payload = choice_payload(SECRET, survey_id, rating)
    assert len(payload.encode()) <= 64 and is_survey_choice(payload)
    pressed = read_choice(SECRET, payload)
    assert pressed is not None and (pressed.survey_id, pressed.rating) == (survey_id, rating)


@pytest.mark.parametrize(
    "forge",
    [
        lambda p: p.replace(".5.", ".4."),  # another rating under the same signature
        lambda p: p.replace("csat.7.", "csat.8."),  # another survey
        lambda p: p[:-1] + ("A" if p[-1] != "A" else "B"),  # a changed signature
        lambda p: p + "x",
        lambda p: "csat.7.5.",
        lambda p: "",
    ],
)
def test_forged_payloads_are_refused(forge: object) -> None:
    payload = choice_payload(SECRET, 7, 5)
    assert read_choice(SECRET, forge(payload)) is None  # type: ignore[operator]
    assert read_choice(b"another key", payload) is None


def _surveys(section: object) -> str:
    data = base_config("sqlite+aiosqlite:///x.db")
    data["surveys"] = section
    return yaml.safe_dump(data)


def test_the_surveys_section_defaults_and_reads_delay_zero() -> None:
    cfg = parse_config(_surveys({"enabled": True, "delay": 0}), "hub.yaml", REGISTRY).surveys
    assert cfg.enabled and cfg.delay_time == timedelta(0)
    assert (cfg.per_customer_days, cfg.change_window_days) == (7, 14)
    later = parse_config(_surveys({"delay": "24h"}), "hub.yaml", REGISTRY).surveys
    assert later.delay_time == timedelta(hours=24) and not later.enabled


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ({"delay": "2h"}, "surveys.delay"),
        ({"change_window_days": 0}, "surveys.change_window_days"),
        ({"whatsapp_templates": {"xx-NOPE": {"name": "a", "language": "en"}}}, "unknown locale"),
        ({"colour": "blue"}, "surveys.colour"),
    ],
)
def test_a_bad_surveys_section_names_the_file_and_line(section: object, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_surveys(section), "hub.yaml", REGISTRY)
    assert "hub.yaml:" in str(info.value) and says in str(info.value)


def test_the_page_speaks_the_surveys_language_else_english() -> None:
    assert texts_for("bn").lang == "bn" and texts_for("bn_BD").lang == "bn"
    assert texts_for("de").lang == "en" and texts_for(None).lang == "en"


def test_whatsapp_takes_three_choices_as_buttons_and_five_as_a_list() -> None:
    three = tuple(Choice(f"{i} ★", f"csat.1.{i}.p") for i in (1, 2, 3))
    five = tuple(Choice(f"{i} ★", f"csat.1.{i}.p") for i in range(1, 6))
    buttons = whatsapp_interactive("How did we do?", three)
    assert buttons is not None and buttons["type"] == "button"
    assert len(buttons["action"]["buttons"]) == 3
    listed = whatsapp_interactive("How did we do?", five)
    assert listed is not None and listed["type"] == "list"
    assert [r["id"] for r in listed["action"]["sections"][0]["rows"]] == [c.payload for c in five]


def test_a_telegram_press_without_data_is_left_to_the_skip() -> None:
    raw = {"update_id": 3, "callback_query": {"id": "1", "from": {"id": 1}}}
    assert parse_callback(raw, ("en",)) is None
    pressed = parse_callback(
        {
            "update_id": 4,
            "callback_query": {
                "id": "9",
                "from": {"id": 5, "first_name": "Rahim", "language_code": "bn"},
                "message": {
                    "chat": {"id": 5},
                    "reply_markup": {"inline_keyboard": [[{"text": "4 ★", "callback_data": "d"}]]},
                },
                "data": "d",
            },
        },
        ("en", "bn"),
    )
    assert pressed is not None and (pressed.label, pressed.language) == ("4 ★", "bn")


@pytest.mark.parametrize("choice", ["", "a b", "x" * 65, 5, "<script>"])
def test_the_widget_refuses_a_choice_that_is_no_payload(choice: object) -> None:
    with pytest.raises(FrameError):
        parse_message({"type": "message", "id": "c1", "text": "4 ★", "choice": choice}, 100)
    ok = parse_message({"type": "message", "id": "c1", "text": "4 ★", "choice": "csat.1.4.x"}, 100)
    assert ok.choice == "csat.1.4.x"
