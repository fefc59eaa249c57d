"""Inline keyboards: the buttons of a message with choices (a survey's ratings), and the
callback_query update a press sends back. Pure: data in, data out.

callback_data is at most 64 bytes (https://core.telegram.org/bots/api#inlinekeyboardbutton);
the core signs and sizes the payloads, so they are passed through as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from connectors.telegram.updates import BadUpdate, match_locale
from hub.messages import Address, Choice

MAX_CALLBACK_DATA = 64
# Telegram shows up to 8 buttons in a row; 5 ratings fit on one.
ROW = 8


def keyboard(choices: tuple[Choice, ...]) -> InlineKeyboardMarkup | None:
    """The choices as one row of buttons (more than eight wrap); None without choices."""
    usable = [c for c in choices if 0 < len(c.payload.encode()) <= MAX_CALLBACK_DATA]
    if not usable:
        return None
    buttons = [InlineKeyboardButton(c.label, callback_data=c.payload) for c in usable]
    return InlineKeyboardMarkup([buttons[i : i + ROW] for i in range(0, len(buttons), ROW)])


@dataclass(frozen=True)
class PressedButton:
    callback_id: str
    update_id: int
    sender: Address
    reply_to: Address
    data: str
    label: str
    language: str | None


def parse_callback(raw: dict[str, Any], locales: tuple[str, ...]) -> PressedButton | None:
    """The button a callback_query update says was pressed; None for another update (or
    a press without callback data, which parse_update then skips)."""
    query = raw.get("callback_query")
    if not isinstance(query, dict):
        return None
    user, data = query.get("from"), query.get("data")
    if not isinstance(query.get("id"), str) or not isinstance(user, dict):
        raise BadUpdate("callback_query without an id or a sender")
    if not isinstance(user.get("id"), int):
        raise BadUpdate("callback_query without a sender id")
    if not isinstance(data, str) or not data:
        # A game's button: nothing the hub offered (parse_update skips it).
        return None
    message = query.get("message") if isinstance(query.get("message"), dict) else {}
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else user
    name = " ".join(str(user.get(k)) for k in ("first_name", "last_name") if user.get(k)) or None
    sender = Address("telegram", str(user["id"]), name)
    language = user.get("language_code")
    return PressedButton(
        callback_id=query["id"],
        update_id=int(raw["update_id"]),
        sender=sender,
        reply_to=Address("telegram", str(chat.get("id", user["id"])), name),
        data=data[:MAX_CALLBACK_DATA],
        label=_label(message, data),
        language=match_locale(language if isinstance(language, str) else "", locales),
    )


def _label(message: dict[str, Any], data: str) -> str:
    """The pressed button's text, from the keyboard the update carries; else its data."""
    markup = message.get("reply_markup")
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    for row in rows if isinstance(rows, list) else ():
        for button in row if isinstance(row, list) else ():
            if isinstance(button, dict) and button.get("callback_data") == data:
                return str(button.get("text") or data)[:100]
    return data
