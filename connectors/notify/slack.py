"""Slack incoming webhooks: `text` (the notification fallback) and Block Kit `blocks`.

Slack's limits, declared here and kept by construction: 50 blocks a message, 150
characters in a header, 3,000 in a section's text; `text` is cut at 40,000.
"""

from __future__ import annotations

from typing import Any

from connectors.notify.settings import SlackConfig
from connectors.notify.webhook import WebhookPoster
from hub.connector import HubContext
from hub.messages import Notice, OutboundMessage, TicketAlert

MAX_BLOCKS = 50
HEADER_CHARS = 150
SECTION_CHARS = 3000
TEXT_CHARS = 40_000


def escape(text: str) -> str:
    """Slack's mrkdwn control characters, as its docs ask: &, <, >."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def alert_line(a: TicketAlert) -> str:
    return (
        f"• *<{a.url}|{a.ref}>* {escape(a.subject)} — {escape(a.team)} · "
        f"{escape(a.priority)} · {escape(a.what)}"
    )


def slack_payload(msg: OutboundMessage) -> dict[str, Any]:
    notice: Notice | None = msg.notice
    text = msg.text[:TEXT_CHARS]
    if notice is None:
        return {"text": escape(text)}
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(notice.title, HEADER_CHARS)}}
    ]
    chunk: list[str] = []
    for line in (_cut(alert_line(a), SECTION_CHARS) for a in notice.alerts):
        if chunk and len("\n".join([*chunk, line])) > SECTION_CHARS:
            blocks.append(_section(chunk))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(_section(chunk))
    # Kept by the core's batch size (at most 40 tickets); never send what Slack refuses.
    blocks = blocks[:MAX_BLOCKS]
    return {"text": escape(text), "blocks": blocks, "unfurl_links": False}


def _section(lines: list[str]) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SlackConnector:
    def __init__(self, config: SlackConfig, ctx: HubContext) -> None:
        self.config = config
        self.ctx = ctx
        self.poster = WebhookPoster(
            "Slack", config.webhook_url.get_secret_value(), config.timeout_seconds, ctx.logger
        )

    async def start(self) -> None:
        await self.poster.start()

    async def stop(self) -> None:
        await self.poster.stop()

    async def send(self, msg: OutboundMessage) -> str:
        await self.poster.post(slack_payload(msg))
        # Slack answers "ok" and no id: the idempotency key names the post.
        return f"slack:{msg.idempotency_key}"

    def web_app(self) -> None:
        return None
