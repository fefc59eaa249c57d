"""A message's choices (a survey's ratings) as each Meta product shows them. Pure.

WhatsApp (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages,
.../interactive-list-messages): up to 3 reply buttons (title <= 20 characters, id <= 256),
else a list of up to 10 rows (title <= 24, id <= 200) behind a button (<= 20); the body
<= 1024 characters. A tap comes back as an `interactive` message whose button_reply or
list_reply carries the id. Messenger and Instagram: up to 13 quick replies (title <= 20,
payload <= 1000); a tap comes back as a message with `quick_reply.payload`.
"""

from __future__ import annotations

from typing import Any

from hub.messages import Choice

WHATSAPP_BODY_CHARS = 1024
MAX_REPLY_BUTTONS = 3
MAX_LIST_ROWS = 10
MAX_QUICK_REPLIES = 13
# The list's opening button: a menu sign, the same in every language.
LIST_BUTTON = "☰"


def _usable(choices: tuple[Choice, ...], limit: int, id_limit: int) -> list[Choice]:
    return [c for c in choices if 0 < len(c.payload) <= id_limit][:limit]


def whatsapp_interactive(body: str, choices: tuple[Choice, ...]) -> dict[str, Any] | None:
    """The `interactive` object carrying `choices` under `body`; None when none fit."""
    if len(choices) <= MAX_REPLY_BUTTONS:
        buttons = _usable(choices, MAX_REPLY_BUTTONS, 256)
        if not buttons:
            return None
        return {
            "type": "button",
            "body": {"text": body},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": c.payload, "title": c.label[:20]}}
                    for c in buttons
                ]
            },
        }
    rows = _usable(choices, MAX_LIST_ROWS, 200)
    if not rows:
        return None
    return {
        "type": "list",
        "body": {"text": body},
        "action": {
            "button": LIST_BUTTON,
            "sections": [{"rows": [{"id": c.payload, "title": c.label[:24]} for c in rows]}],
        },
    }


def quick_replies(choices: tuple[Choice, ...]) -> list[dict[str, Any]]:
    return [
        {"content_type": "text", "title": c.label[:20], "payload": c.payload}
        for c in _usable(choices, MAX_QUICK_REPLIES, 1000)
    ]
