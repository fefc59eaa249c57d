"""Microsoft Teams: a Workflows (Power Automate) webhook taking a message with one
Adaptive Card attachment, or a legacy Office 365 connector webhook taking a MessageCard.

Cards are kept well under Teams' 28 KB message limit by the core's batch size.
"""

from __future__ import annotations

import re
from typing import Any

from connectors.notify.settings import TeamsConfig
from connectors.notify.webhook import WebhookPoster
from hub.connector import HubContext
from hub.messages import Notice, OutboundMessage, TicketAlert

ADAPTIVE_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# Version 1.4 renders in every Teams client that Workflows posts to.
ADAPTIVE_VERSION = "1.4"
TEXT_CHARS = 20_000

# What Teams' card markdown turns into emphasis, code or links; the rest stays as written.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>~])")


def escape(text: str) -> str:
    """Card text is markdown: a subject's `*` or `[` must not become formatting or links."""
    return _MARKDOWN.sub(r"\\\1", text)


def alert_text(a: TicketAlert) -> str:
    return (
        f"**[{a.ref}]({a.url})** {escape(a.subject)} — {escape(a.team)} · {a.priority} · "
        f"{escape(a.what)}"
    )


def _inbox_url(notice: Notice) -> str | None:
    if not notice.alerts:
        return None
    if len(notice.alerts) == 1:
        return notice.alerts[0].url
    return notice.alerts[0].url.rsplit("/tickets/", 1)[0] + "/"


def adaptive_payload(msg: OutboundMessage) -> dict[str, Any]:
    notice = msg.notice
    body: list[dict[str, Any]]
    actions: list[dict[str, Any]] = []
    if notice is None:
        body = [{"type": "TextBlock", "text": escape(msg.text[:TEXT_CHARS]), "wrap": True}]
    else:
        body = [
            {
                "type": "TextBlock",
                "text": escape(notice.title),
                "size": "Medium",
                "weight": "Bolder",
                "wrap": True,
            },
            *(
                {"type": "TextBlock", "text": alert_text(a), "wrap": True, "spacing": "Small"}
                for a in notice.alerts
            ),
        ]
        url = _inbox_url(notice)
        if url:
            title = f"Open {notice.alerts[0].ref}" if len(notice.alerts) == 1 else "Open the inbox"
            actions.append({"type": "Action.OpenUrl", "title": title, "url": url})
    card: dict[str, Any] = {
        "$schema": ADAPTIVE_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {"contentType": ADAPTIVE_CONTENT_TYPE, "contentUrl": None, "content": card}
        ],
    }


def message_card_payload(msg: OutboundMessage) -> dict[str, Any]:
    notice = msg.notice
    if notice is None:
        text = escape(msg.text[:TEXT_CHARS])
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": msg.text[:100] or "Notification",
            "text": text,
        }
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": notice.title,
        "themeColor": "0076D7",
        "title": escape(notice.title),
        "text": "\n\n".join(alert_text(a) for a in notice.alerts),
    }
    url = _inbox_url(notice)
    if url:
        card["potentialAction"] = [
            {
                "@type": "OpenUri",
                "name": "Open in the inbox",
                "targets": [{"os": "default", "uri": url}],
            }
        ]
    return card


class TeamsConnector:
    def __init__(self, config: TeamsConfig, ctx: HubContext) -> None:
        self.config = config
        self.ctx = ctx
        self.poster = WebhookPoster(
            "Teams", config.webhook_url.get_secret_value(), config.timeout_seconds, ctx.logger
        )

    async def start(self) -> None:
        await self.poster.start()

    async def stop(self) -> None:
        await self.poster.stop()

    async def send(self, msg: OutboundMessage) -> str:
        if self.config.format == "messagecard":
            payload = message_card_payload(msg)
        else:
            payload = adaptive_payload(msg)
        _, _, run_id = await self.poster.post(payload)
        return f"teams:{run_id or msg.idempotency_key}"

    def web_app(self) -> None:
        return None
