"""Sending through the Graph API: each product's message bodies, and long text in parts.

WhatsApp: POST /<phone-number-id>/messages, media uploaded first to /<phone-number-id>/media
(https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages).
Messenger: POST /<page-id>/messages, files as multipart `filedata`; Instagram: POST
/<ig-id>/messages, which takes files only by public URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp

from connectors.meta.choices import WHATSAPP_BODY_CHARS, quick_replies, whatsapp_interactive
from connectors.meta.errors import GraphError
from connectors.meta.graph import GraphClient
from connectors.meta.settings import WhatsAppConfig
from hub.connector import PermanentSendError
from hub.messages import Attachment, OutboundMessage

WHATSAPP_TEXT_CHARS = 4096
MESSENGER_TEXT_CHARS = 2000
INSTAGRAM_TEXT_BYTES = 1000


def split_text(text: str, limit: int, size: Callable[[str], int] = len) -> list[str]:
    """Parts of at most `limit` (as `size` measures), cut at a line or word where one is near."""
    text = text.strip()
    parts: list[str] = []
    while text:
        if size(text) <= limit:
            parts.append(text)
            break
        cut = limit
        while size(text[:cut]) > limit:
            cut -= max(1, (size(text[:cut]) - limit) // 4)
        space = max(text.rfind("\n", 0, cut), text.rfind(" ", 0, cut))
        if space > cut // 2:
            cut = space
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return parts


def whatsapp_to(msg: OutboundMessage) -> str:
    if msg.to.kind not in ("whatsapp", "phone"):
        raise PermanentSendError(f"cannot send to a {msg.to.kind!r} address over WhatsApp")
    return msg.to.value.lstrip("+")


def whatsapp_template(cfg: WhatsAppConfig, msg: OutboundMessage) -> dict[str, Any]:
    assert msg.template is not None
    tpl = cfg.templates.get(msg.template)
    if tpl is None:
        raise PermanentSendError(f"no template is configured for {msg.template!r} any more")
    name = (msg.to.display_name or "").strip() or tpl.name_fallback
    if name is None and "customer_name" in tpl.params:
        raise PermanentSendError(
            f"template {tpl.name!r} needs customer_name and the customer has no name;"
            " set name_fallback on the template"
        )
    values = {
        "customer_name": name or "",
        "ticket_ref": msg.ticket_ref or "",
        "text": msg.text,
    }
    return _template_message(msg, tpl.name, tpl.language, [values[p] for p in tpl.params])


def whatsapp_approved(msg: OutboundMessage) -> dict[str, Any]:
    """A template the hub's greetings or campaigns config names, parameters filled."""
    tm = msg.template_message
    assert tm is not None
    return _template_message(msg, tm.name, tm.language, list(tm.params))


def _template_message(
    msg: OutboundMessage, name: str, language: str, params: list[str]
) -> dict[str, Any]:
    """A template message in the Cloud API's shape, its body parameters in order."""
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if params:
        template["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}
        ]
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": whatsapp_to(msg),
        "type": "template",
        "template": template,
    }


def whatsapp_steps(msg: OutboundMessage) -> list[str | Attachment]:
    # With choices, the last part is an interactive message's body, which is shorter.
    limit = WHATSAPP_BODY_CHARS if msg.choices else WHATSAPP_TEXT_CHARS
    return [*split_text(msg.text, limit), *msg.attachments]


def _with_choices(msg: OutboundMessage, step: str, limit: int) -> bool:
    """Whether this text part carries the message's choices: the last one does."""
    texts = split_text(msg.text, limit)
    return bool(msg.choices) and bool(texts) and step == texts[-1]


async def whatsapp_step(
    graph: GraphClient, cfg: WhatsAppConfig, msg: OutboundMessage, step: str | Attachment
) -> str:
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": whatsapp_to(msg),
    }
    interactive = (
        whatsapp_interactive(step, msg.choices)
        if isinstance(step, str) and _with_choices(msg, step, WHATSAPP_BODY_CHARS)
        else None
    )
    if interactive is not None:
        body.update(type="interactive", interactive=interactive)
    elif isinstance(step, str):
        body.update(type="text", text={"body": step, "preview_url": False})
    else:
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", step.content_type)
        form.add_field("file", step.content, filename=step.filename, content_type=step.content_type)
        media_id = (await graph.post_form(f"{cfg.phone_number_id}/media", form)).get("id")
        kind = _whatsapp_kind(step.content_type)
        section: dict[str, Any] = {"id": media_id}
        if kind == "document":
            section["filename"] = step.filename
        body.update(type=kind, **{kind: section})
    answer = await graph.post_json(f"{cfg.phone_number_id}/messages", body)
    return first_id(answer)


def _whatsapp_kind(content_type: str) -> str:
    ctype = content_type.split(";")[0].strip().lower()
    if ctype in ("image/jpeg", "image/png"):
        return "image"
    if ctype in ("video/mp4", "video/3gpp"):
        return "video"
    if ctype.startswith("audio/"):
        return "audio"
    return "document"


def first_id(answer: dict[str, Any]) -> str:
    messages = answer.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        return str(messages[0].get("id"))
    if answer.get("message_id"):
        return str(answer["message_id"])
    raise GraphError(200, {"message": "the send answer has no message id"})


def messaging_steps_text(msg: OutboundMessage) -> list[str]:
    if msg.to.kind == "instagram":
        return split_text(msg.text, INSTAGRAM_TEXT_BYTES, lambda s: len(s.encode()))
    return split_text(msg.text, MESSENGER_TEXT_CHARS)


def messaging_steps(msg: OutboundMessage, channel: str) -> list[str | Attachment]:
    if msg.to.kind != channel:
        raise PermanentSendError(f"cannot send to a {msg.to.kind!r} address over {channel}")
    if msg.template is not None or msg.template_message is not None:
        raise PermanentSendError(f"{channel} has no message templates")
    if channel == "instagram":
        if msg.attachments:
            raise PermanentSendError(
                "Instagram takes files only by public URL, which the hub does not serve; "
                "send the text alone or answer on another channel"
            )
        return list(messaging_steps_text(msg))
    return [*messaging_steps_text(msg), *msg.attachments]


async def messaging_step(
    graph: GraphClient, account_id: str, msg: OutboundMessage, step: str | Attachment
) -> str:
    recipient = {"id": msg.to.value}
    if isinstance(step, str):
        message: dict[str, Any] = {"text": step}
        # Instagram's parts are cut by bytes, Messenger's by characters: either way, the
        # last part of the text is where the quick replies go.
        if msg.choices and step == messaging_steps_text(msg)[-1]:
            message["quick_replies"] = quick_replies(msg.choices)
        body = {"recipient": recipient, "messaging_type": "RESPONSE", "message": message}
        return first_id(await graph.post_json(f"{account_id}/messages", body))
    kind = step.content_type.split("/")[0]
    kind = kind if kind in ("image", "video", "audio") else "file"
    form = aiohttp.FormData()
    form.add_field("recipient", json.dumps(recipient))
    form.add_field("messaging_type", "RESPONSE")
    form.add_field(
        "message", json.dumps({"attachment": {"type": kind, "payload": {"is_reusable": False}}})
    )
    form.add_field("filedata", step.content, filename=step.filename, content_type=step.content_type)
    return first_id(await graph.post_form(f"{account_id}/messages", form))
