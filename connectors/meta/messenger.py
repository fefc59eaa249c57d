"""Messenger and Instagram webhook deliveries -> messages and events (pure).

Both send {"object": "page" | "instagram", "entry": [{"id", "time", "messaging": [...]}]}
with one event per item: `message` (text, attachments, quick_reply, reply_to; `is_echo`
for what the page itself sent; Instagram's `is_deleted`), `message_edit`, `reaction`,
`postback` (a button), `delivery` and `read`
(https://developers.facebook.com/docs/messenger-platform/webhooks,
https://developers.facebook.com/docs/instagram-platform/webhooks).
"""

from __future__ import annotations

from typing import Any

from connectors.meta.inbound import (
    BadDelivery,
    Incoming,
    MediaRef,
    Parsed,
    as_dict,
    as_list,
    from_unix,
    media_filename,
)
from hub.messages import Address, InboundMessage, MessageEvent

OBJECTS = {"messenger": "page", "instagram": "instagram"}
CONTENT_TYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/mpeg",
    "file": "application/octet-stream",
}


def parse_messaging(body: Any, channel: str, connector_id: str, own_id: str) -> Parsed:
    """`channel` is "messenger" (PSIDs) or "instagram" (IGSIDs); `own_id` the page or
    account whose own messages (echoes) are not the customer's."""
    if not isinstance(body, dict) or body.get("object") != OBJECTS[channel]:
        raise BadDelivery(f"not a {channel} delivery (object {OBJECTS[channel]!r})")
    out = Parsed()
    for entry in as_list(body.get("entry")):
        for item in as_list(as_dict(entry).get("messaging")):
            _item(as_dict(item), channel, connector_id, own_id, out)
    return out


def _item(item: dict[str, Any], channel: str, connector_id: str, own_id: str, out: Parsed) -> None:
    sender_id = as_dict(item.get("sender")).get("id")
    at = from_unix(item.get("timestamp"))
    sender_id = str(sender_id) if sender_id is not None else ""

    def event(ref: Any, kind: str, key: str, value: str | None) -> None:
        if isinstance(ref, str) and ref:
            out.events.append(
                MessageEvent(channel, connector_id, ref, kind, key, value, at, {"by": sender_id})
            )

    if "message" in item:
        message = as_dict(item["message"])
        mid = message.get("mid")
        if message.get("is_echo") or sender_id == own_id:
            out.skipped.append("echo of our own message")
        elif message.get("is_deleted"):
            event(mid, "delete", f"delete:{mid}", None)
        elif isinstance(mid, str) and mid and sender_id:
            _message(message, mid, sender_id, at, channel, connector_id, out)
        else:
            out.skipped.append("message without mid or sender")
    elif "message_edit" in item:
        edit = as_dict(item["message_edit"])
        mid = edit.get("mid")
        event(mid, "edit", f"edit:{mid}:{edit.get('num_edit')}", str(edit.get("text") or ""))
    elif "reaction" in item:
        r = as_dict(item["reaction"])
        emoji = "" if r.get("action") == "unreact" else str(r.get("emoji") or r.get("reaction"))
        event(r.get("mid"), "reaction", f"reaction:{r.get('mid')}:{sender_id}:{at}", emoji)
    elif "postback" in item:
        pb = as_dict(item["postback"])
        mid = pb.get("mid") or f"postback:{sender_id}:{item.get('timestamp')}"
        message = {"text": pb.get("title") or pb.get("payload") or "", "postback": pb}
        _message(message, str(mid), sender_id, at, channel, connector_id, out)
    elif "delivery" in item:
        for mid in as_list(as_dict(item["delivery"]).get("mids")):
            event(mid, "status", f"status:{mid}:delivered", "delivered")
    elif "read" in item:
        # Instagram names the message read; Messenger gives only a watermark (time).
        mid = as_dict(item["read"]).get("mid")
        if mid:
            event(mid, "status", f"status:{mid}:read", "read")
        else:
            out.skipped.append("read watermark")
    else:
        out.skipped.append("messaging event " + ",".join(sorted(item)))


def _message(
    message: dict[str, Any],
    mid: str,
    sender_id: str,
    at: Any,
    channel: str,
    connector_id: str,
    out: Parsed,
) -> None:
    meta: dict[str, Any] = {"kind": "text"}
    texts = [str(message.get("text") or "")]
    media: list[MediaRef] = []
    for n, att in enumerate(as_list(message.get("attachments"))):
        att = as_dict(att)
        kind, payload = str(att.get("type") or ""), as_dict(att.get("payload"))
        meta["kind"] = kind or meta["kind"]
        if kind == "location" or "coordinates" in payload:
            coords = as_dict(payload.get("coordinates"))
            meta["kind"] = "location"
            meta["location"] = coords
            texts.append(f"Location: ({coords.get('lat')}, {coords.get('long')})")
        elif kind in CONTENT_TYPES and isinstance(payload.get("url"), str):
            ctype = CONTENT_TYPES[kind]
            media.append(
                MediaRef(media_filename(kind, f"{mid}{n}", ctype), ctype, url=payload["url"])
            )
        else:
            texts.append(f"[{kind or 'attachment'}: {payload.get('url') or payload.get('title')}]")
    if isinstance(message.get("quick_reply"), dict):
        meta["kind"] = "button"
        meta["payload"] = message["quick_reply"].get("payload")
    if isinstance(message.get("postback"), dict):
        meta["kind"] = "button"
        meta["payload"] = message["postback"].get("payload")
    if isinstance(as_dict(message.get("reply_to")).get("mid"), str):
        meta["reply_to_message"] = message["reply_to"]["mid"]
    sender = Address(channel, sender_id)
    out.messages.append(
        Incoming(
            InboundMessage(
                channel=channel,
                connector_id=connector_id,
                external_id=mid,
                sender=sender,
                text="\n".join(t for t in texts if t),
                reply_to=sender,
                received_at=at,
                meta=meta,
            ),
            tuple(media),
        )
    )
