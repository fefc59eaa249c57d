"""The widget's frames, checked; and what the hub sends back. Pure: data in, data out.

Client -> hub (JSON text frames):
  {"type": "hello", "token": str | null, "language": "bn-BD"}       first, once
  {"type": "message", "id": str, "text": str, "command"?: "human" | "start",
   "choice"?: str (a button's payload), "name"?: str, "email"?: str, "phone"?: str}
  {"type": "identify", "name"?: str, "email"?: str, "phone"?: str}   checks a contact form
Hub -> client:
  welcome {token, new, start, history[], max_chars}, ack {id, message, ticket, duplicate},
  message {id, dir, text, at, choices?: [{label, payload}]}, identified {name, email, phone},
  error {code, text, id?, ...}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.webchat.errors import FrameError
from hub.connector import HostileBody, JsonLimits, read_json
from hub.messages import Address, Choice

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# A choice's payload as the core makes them (hub.messages.Choice: at most 64 bytes).
CHOICE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
COMMANDS = frozenset({"human", "start"})
# What a /start message says in the ticket; the widget shows no bubble for it.
START_TEXT = "/start"
HUMAN_TEXT = "I would like to talk to a person."
MAX_NAME = 200
_FRAME_LIMITS = JsonLimits(refuse_bad_text=False)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Hello:
    token: str | None
    language: str | None


@dataclass(frozen=True)
class Contact:
    name: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ChatMessage:
    client_id: str
    text: str
    command: str | None
    # The payload of the button the visitor pressed (its label is the text).
    choice: str | None = None


def decode(raw: str) -> dict[str, Any]:
    try:
        # A chat line's stray NUL or broken character is repaired, not refused.
        data = read_json(raw, _FRAME_LIMITS)
    except HostileBody as exc:
        raise FrameError("invalid", f"The frame is not usable JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise FrameError("invalid", "A frame is a JSON object with a type.")
    return data


def parse_hello(data: dict[str, Any]) -> Hello:
    if data.get("type") != "hello":
        raise FrameError("invalid", "Say hello first.")
    token, language = data.get("token"), data.get("language")
    return Hello(
        token=token if isinstance(token, str) else None,
        language=language if isinstance(language, str) else None,
    )


def clean_text(text: str) -> str:
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def parse_message(data: dict[str, Any], max_chars: int) -> ChatMessage:
    """A message frame's id, command and text (its contact fields: `parse_contact`)."""
    client_id = data.get("id")
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        raise FrameError("invalid", "A message needs an id of 1-64 letters, digits, - or _.")
    command = data.get("command")
    if command is not None and command not in COMMANDS:
        raise FrameError("invalid", f"Unknown command {str(command)[:20]!r}.", client_id)
    raw = data.get("text", "")
    if not isinstance(raw, str):
        raise FrameError("invalid", "The text must be a string.", client_id)
    if len(raw) > max_chars * 2:
        # Not worth cleaning: no amount of stripped whitespace brings it under the limit.
        raise FrameError("too_long", _too_long(max_chars), client_id, max_chars=max_chars)
    text = clean_text(raw)
    if command == "start":
        text = START_TEXT
    elif command == "human" and not text:
        text = HUMAN_TEXT
    if not text:
        raise FrameError("empty", "Please write a message.", client_id)
    if len(text) > max_chars:
        raise FrameError("too_long", _too_long(max_chars), client_id, max_chars=max_chars)
    choice = data.get("choice")
    if choice is not None and (not isinstance(choice, str) or not CHOICE.match(choice)):
        raise FrameError("invalid", "A choice is the payload of a button we sent.", client_id)
    return ChatMessage(client_id, text, command, choice)


def choices_frame(choices: tuple[Choice, ...]) -> list[dict[str, str]]:
    return [{"label": c.label, "payload": c.payload} for c in choices]


def _too_long(max_chars: int) -> str:
    return f"Please keep a message under {max_chars:,} characters."


def parse_contact(
    data: dict[str, Any],
    normalize_email: Callable[[str], str | None],
    normalize_phone: Callable[[str], str | None],
) -> Contact:
    """The name, email and phone a frame carries, normalized; FrameError names bad ones."""
    client_id = data.get("id") if isinstance(data.get("id"), str) else None
    fields: dict[str, str] = {}
    raw: dict[str, str] = {}
    for key in ("name", "email", "phone"):
        value = data.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            fields[key] = "must be text"
            continue
        raw[key] = value.strip()
    name = " ".join(raw.get("name", "").split()) or None
    if name is not None and len(name) > MAX_NAME:
        fields["name"] = f"Please keep the name under {MAX_NAME} characters."
    email = normalize_email(raw["email"]) if raw.get("email") else None
    if raw.get("email") and email is None:
        fields["email"] = "This is not a valid email address."
    phone = normalize_phone(raw["phone"]) if raw.get("phone") else None
    if raw.get("phone") and phone is None:
        fields["phone"] = "This is not a valid phone number (include the country code)."
    if fields:
        raise FrameError(
            "invalid_contact", "Please check your contact details.", client_id, fields=fields
        )
    return Contact(name, email, phone)


def identities(contact: Contact) -> tuple[Address, ...]:
    out = []
    if contact.email:
        out.append(Address("email", contact.email, contact.name))
    if contact.phone:
        out.append(Address("phone", contact.phone, contact.name))
    return tuple(out)


def history_frame(item: Any) -> dict[str, Any] | None:
    """A HistoryItem as the widget shows it, or None for the /start it sent itself."""
    if item.direction == "in" and item.text == START_TEXT:
        return None
    frame: dict[str, Any] = {
        "id": f"m{item.message_id}",
        "dir": item.direction,
        "text": item.text,
        "at": _iso(item.created_at),
    }
    choices = getattr(item, "choices", ())
    if choices:
        frame["choices"] = choices_frame(tuple(choices))
    return frame


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z") if at.tzinfo else at.isoformat() + "Z"
