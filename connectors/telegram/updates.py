"""Telegram updates (raw Bot API JSON) to what the hub needs. Pure: data in, data out.

We read the raw JSON rather than python-telegram-bot's `Update` objects on purpose: PTB
rejects whole updates that lack fields today's API always sends (`is_bot`,
`file_unique_id`), which older clients, proxies and recorded fixtures omit, and in
`getUpdates` one such update would fail the whole batch and stall polling for good.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.messages import Address

# The message-like parts of an update; everything else (my_chat_member, callback_query,
# poll answers...) is not something a customer wrote to us.
MESSAGE_KINDS = ("message", "edited_message", "channel_post", "edited_channel_post")

# Service messages record something that happened to a chat, not something said in it.
SERVICE_KEYS = frozenset(
    {
        "new_chat_members",
        "left_chat_member",
        "new_chat_title",
        "new_chat_photo",
        "delete_chat_photo",
        "group_chat_created",
        "supergroup_chat_created",
        "channel_chat_created",
        "migrate_to_chat_id",
        "migrate_from_chat_id",
        "pinned_message",
        "message_auto_delete_timer_changed",
        "video_chat_started",
        "video_chat_ended",
        "video_chat_scheduled",
        "video_chat_participants_invited",
        "forum_topic_created",
        "forum_topic_closed",
        "forum_topic_reopened",
        "forum_topic_edited",
        "chat_shared",
        "users_shared",
        "write_access_allowed",
        "boost_added",
    }
)

# Bot commands the core acts on, by the name a user types.
COMMANDS = {
    "start": "start",
    "help": "help",
    "human": "human",
    "person": "human",
    "agent": "human",
    # Zammad's convention for "I am done": the core may close the ticket.
    "end": "end",
    # Ends greetings and campaigns in this chat (the core records the opt-out).
    "stop": "stop",
}

SUBJECT_CHARS = 100

GROUP_TYPES = frozenset({"group", "supergroup"})

# Parts of a message that say who, where and in reply to what, not what was said.
_ENVELOPE = frozenset(
    {
        "chat",
        "from",
        "sender_chat",
        "reply_to_message",
        "external_reply",
        "quote",
        "forward_origin",
        "forward_from",
        "forward_from_chat",
        "entities",
        "caption_entities",
        "reply_markup",
        "via_bot",
        "link_preview_options",
    }
)


@dataclass(frozen=True)
class MediaRef:
    """A file the message carries, to be fetched with getFile."""

    file_id: str
    filename: str
    content_type: str
    # As the update declares it; None when Telegram did not say.
    size: int | None
    # True when the name still lacks an extension that getFile's path may supply.
    guess_extension: bool = False


@dataclass(frozen=True)
class ParsedMessage:
    external_id: str
    sender: Address
    reply_to: Address
    text: str
    subject: str | None
    identities: tuple[Address, ...]
    language: str | None
    received_at: datetime | None
    media: tuple[MediaRef, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    # A group: one conversation among its members (None for a private chat or channel).
    conversation: Address | None = None


@dataclass(frozen=True)
class Skipped:
    """An update that is acknowledged and not stored, with why."""

    reason: str


class BadUpdate(ValueError):
    """Not a Telegram update we can read (no update_id, a message without a chat)."""


def parse_update(
    raw: object,
    *,
    bot_id: str,
    bot_username: str | None,
    locales: tuple[str, ...],
    max_file_bytes: int,
    normalize_phone: Callable[[str], str | None],
) -> ParsedMessage | Skipped:
    if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
        raise BadUpdate("not a Telegram update: no integer update_id")
    kind = next((k for k in MESSAGE_KINDS if isinstance(raw.get(k), dict)), None)
    if kind is None:
        other = next((k for k in raw if k != "update_id" and isinstance(raw[k], dict)), "unknown")
        return Skipped(f"not a message: {other}")
    msg: dict[str, Any] = raw[kind]
    chat = msg.get("chat")
    if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
        raise BadUpdate(f"{kind} without a chat id")
    if SERVICE_KEYS.intersection(msg):
        return Skipped(f"service message: {sorted(SERVICE_KEYS.intersection(msg))[0]}")

    chat_id: int = chat["id"]
    user = msg.get("from") if isinstance(msg.get("from"), dict) else None
    # Channel posts (and anonymous group admins) have no user: the chat speaks.
    speaker = user or msg.get("sender_chat") or chat
    speaker_id = speaker.get("id") if isinstance(speaker, dict) else None
    if not isinstance(speaker_id, int):
        raise BadUpdate(f"{kind} without a sender id")
    sender = Address("telegram", str(speaker_id), _display_name(speaker))

    text = _str(msg.get("text")) or _str(msg.get("caption"))
    meta = _meta(raw["update_id"], kind, msg, chat, bot_username)

    identities: list[Address] = []
    extra_lines: list[str] = []
    contact = msg.get("contact")
    if isinstance(contact, dict):
        line, phone = _contact(contact, user, normalize_phone)
        extra_lines.append(line)
        if phone is not None:
            identities.append(Address("phone", phone, sender.display_name))
    venue = msg.get("venue") if isinstance(msg.get("venue"), dict) else {}
    location = venue.get("location") or msg.get("location")
    if isinstance(location, dict):
        lat, lon = location.get("latitude"), location.get("longitude")
        meta["location"] = {"latitude": lat, "longitude": lon}
        where = ", ".join(_str(venue.get(k)) for k in ("title", "address") if venue.get(k))
        extra_lines.append(f"Location: {lat}, {lon}" + (f" ({where})" if where else ""))
    sticker = msg.get("sticker")
    if isinstance(sticker, dict) and not text:
        text = _str(sticker.get("emoji"))

    media = _media(msg, max_file_bytes)
    if not text and not extra_lines and not media:
        content = sorted(
            k for k, v in msg.items() if isinstance(v, dict | list) and k not in _ENVELOPE
        )
        content = content or ["empty"]
        extra_lines.append(f"(a Telegram message the hub cannot show: {', '.join(content)})")
    body = "\n".join(part for part in (text, *extra_lines) if part)
    reply_to = Address("telegram", str(chat_id), _display_name(chat))

    return ParsedMessage(
        # The chat and message id name the message for good; the update id keeps two
        # updates apart where a (hand-made) id repeats, and an edit apart from its original.
        external_id=f"{bot_id}:{chat_id}:{msg.get('message_id')}:{raw['update_id']}",
        sender=sender,
        reply_to=reply_to,
        text=body,
        subject=_subject(body),
        identities=tuple(identities),
        language=match_locale(_str((user or {}).get("language_code")), locales),
        received_at=_timestamp(msg.get("date")),
        media=media,
        meta=meta,
        # A channel speaks as itself, one sender; a group is many people in one place.
        conversation=reply_to if meta["chat_type"] in GROUP_TYPES else None,
    )


def _meta(
    update_id: int, kind: str, msg: dict[str, Any], chat: dict[str, Any], bot_username: str | None
) -> dict[str, Any]:
    """What a message's update says besides its content: chat, ids, edit, command."""
    meta: dict[str, Any] = {
        "chat_id": chat["id"],
        "chat_type": _str(chat.get("type")) or "private",
        "message_id": msg.get("message_id"),
        "update_id": update_id,
    }
    if chat.get("title"):
        meta["chat_title"] = _str(chat.get("title"))
    if kind.startswith("edited_"):
        meta["edited"] = True
    if msg.get("media_group_id"):
        meta["media_group_id"] = _str(msg.get("media_group_id"))

    command = _command(_str(msg.get("text")), bot_username)
    if command is not None:
        meta["command"], args = command
        if args:
            meta["command_args"] = args
    return meta


def match_locale(language_code: str, locales: tuple[str, ...]) -> str | None:
    """The hub locale for an IETF tag Telegram reports ("en-US" -> "en", "pt-br" -> "pt_BR")."""
    if not language_code:
        return None
    wanted = language_code.replace("_", "-").lower()
    for locale in locales:
        if locale.replace("_", "-").lower() == wanted:
            return locale
    primary = wanted.split("-")[0]
    for locale in locales:
        if locale.replace("_", "-").lower() == primary:
            return locale
    for locale in locales:
        if locale.replace("_", "-").lower().split("-")[0] == primary:
            return locale
    return None


def _command(text: str, bot_username: str | None) -> tuple[str, str] | None:
    if not text.startswith("/"):
        return None
    head, _, args = text.partition(" ")
    name, _, addressee = head[1:].partition("@")
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return None  # a command for another bot in the same group
    known = COMMANDS.get(name.lower())
    return (known, args.strip()) if known else None


def _contact(
    contact: dict[str, Any],
    user: dict[str, Any] | None,
    normalize_phone: Callable[[str], str | None],
) -> tuple[str, str | None]:
    raw = _str(contact.get("phone_number"))
    # Telegram sends numbers in international form, often without the leading '+'.
    phone = normalize_phone(raw if raw.startswith("+") else f"+{raw}") if raw else None
    name = " ".join(_str(contact.get(k)) for k in ("first_name", "last_name") if contact.get(k))
    line = f"Shared contact: {name} {phone or raw}".replace("  ", " ").strip()
    # Only the sender's own number joins their identities; a forwarded card is someone else.
    own = user is not None and contact.get("user_id") == user.get("id")
    return line, phone if own else None


def _media(msg: dict[str, Any], max_file_bytes: int) -> tuple[MediaRef, ...]:
    if isinstance(msg.get("photo"), list):
        sizes = [p for p in msg["photo"] if isinstance(p, dict) and p.get("file_id")]
        # The biggest rendition under the cap; if none fits, the smallest, to be dropped.
        fitting = [p for p in sizes if (_size(p) or 0) <= max_file_bytes]
        pool = fitting or sizes[:1]
        if not pool:
            return ()
        best = max(pool, key=lambda p: _count(p.get("width")) * _count(p.get("height")))
        name = f"photo-{best['file_id']}.jpg"
        return (MediaRef(best["file_id"], name, "image/jpeg", _size(best)),)
    for key, prefix, default_type, ext in (
        ("document", "document", "application/octet-stream", ""),
        ("video", "video", "video/mp4", ".mp4"),
        ("animation", "animation", "video/mp4", ".mp4"),
        ("video_note", "video", "video/mp4", ".mp4"),
        ("voice", "audio", "audio/ogg", ".ogg"),
        ("audio", "audio", "audio/mpeg", ".mp3"),
    ):
        item = msg.get(key)
        if isinstance(item, dict) and item.get("file_id"):
            content_type = _str(item.get("mime_type")) or default_type
            name = _str(item.get("file_name")).replace("/", "_").replace("\\", "_")
            guess = not name and not ext
            return (
                MediaRef(
                    item["file_id"],
                    name or f"{prefix}-{item['file_id']}{ext}",
                    content_type,
                    _size(item),
                    guess_extension=guess,
                ),
            )
    sticker = msg.get("sticker")
    if isinstance(sticker, dict) and sticker.get("file_id"):
        # Animated stickers are TGS (gzipped Lottie), video stickers WebM, the rest WebP.
        if sticker.get("is_animated"):
            ext, content_type = ".tgs", "application/x-tgsticker"
        elif sticker.get("is_video"):
            ext, content_type = ".webm", "video/webm"
        else:
            ext, content_type = ".webp", "image/webp"
        stem = _str(sticker.get("set_name")) or f"sticker-{sticker['file_id']}"
        return (MediaRef(sticker["file_id"], f"{stem}{ext}", content_type, _size(sticker)),)
    return ()


def _display_name(who: dict[str, Any]) -> str | None:
    name = " ".join(_str(who.get(k)) for k in ("first_name", "last_name") if who.get(k))
    name = name or _str(who.get("title"))
    if not name and who.get("username"):
        name = "@" + _str(who.get("username"))
    return name[:200] or None


def _subject(body: str) -> str | None:
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    if len(first) > SUBJECT_CHARS:
        first = first[: SUBJECT_CHARS - 1].rstrip() + "…"
    return first or None


def _timestamp(value: object) -> datetime | None:
    if isinstance(value, int) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def _size(item: dict[str, Any]) -> int | None:
    size = item.get("file_size")
    return size if isinstance(size, int) and size >= 0 else None


def _count(value: object) -> int:
    """A whole number of the update (a photo's width), 0 when it is none (a list, a text)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
