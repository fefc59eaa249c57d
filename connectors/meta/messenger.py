"""Messenger and Instagram webhook deliveries -> messages and events (pure).

Both send {"object": "page" | "instagram", "entry": [{"id", "time", "messaging": [...]}]}
with one event per item: `message` (text, attachments, quick_reply, reply_to; `is_echo`
for what the page itself sent; Instagram's `is_deleted`), `message_edit`, `reaction`,
`postback` (a button), `delivery` and `read`
(https://developers.facebook.com/docs/messenger-platform/webhooks,
https://developers.facebook.com/docs/instagram-platform/webhooks).
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Source:
    """Where a messaging item came from, and the Parsed its results go into."""

    channel: str
    connector_id: str
    sender_id: str
    at: Any
    out: Parsed

    def event(self, ref: Any, kind: str, key: str, value: str | None) -> None:
        if isinstance(ref, str) and ref:
            self.out.events.append(
                MessageEvent(
                    self.channel,
                    self.connector_id,
                    ref,
                    kind,
                    key,
                    value,
                    self.at,
                    {"by": self.sender_id},
                )
            )


def _item(item: dict[str, Any], channel: str, connector_id: str, own_id: str, out: Parsed) -> None:
    sender_id = as_dict(item.get("sender")).get("id")
    at = from_unix(item.get("timestamp"))
    sender_id = str(sender_id) if sender_id is not None else ""
    src = _Source(channel, connector_id, sender_id, at, out)

    if "message" in item:
        _message_item(as_dict(item["message"]), own_id, src)
    elif "message_edit" in item:
        edit = as_dict(item["message_edit"])
        mid = edit.get("mid")
        src.event(mid, "edit", f"edit:{mid}:{edit.get('num_edit')}", str(edit.get("text") or ""))
    elif "reaction" in item:
        r = as_dict(item["reaction"])
        emoji = "" if r.get("action") == "unreact" else str(r.get("emoji") or r.get("reaction"))
        src.event(r.get("mid"), "reaction", f"reaction:{r.get('mid')}:{sender_id}:{at}", emoji)
    elif "postback" in item:
        pb = as_dict(item["postback"])
        mid = pb.get("mid") or f"postback:{sender_id}:{item.get('timestamp')}"
        message = {"text": pb.get("title") or pb.get("payload") or "", "postback": pb}
        _message(message, str(mid), src)
    elif "delivery" in item:
        for mid in as_list(as_dict(item["delivery"]).get("mids")):
            src.event(mid, "status", f"status:{mid}:delivered", "delivered")
    elif "read" in item:
        # Instagram names the message read; Messenger gives only a watermark (time).
        mid = as_dict(item["read"]).get("mid")
        if mid:
            src.event(mid, "status", f"status:{mid}:read", "read")
        else:
            out.skipped.append("read watermark")
    else:
        out.skipped.append("messaging event " + ",".join(sorted(item)))


def _message_item(message: dict[str, Any], own_id: str, src: _Source) -> None:
    mid = message.get("mid")
    if message.get("is_echo") or src.sender_id == own_id:
        src.out.skipped.append("echo of our own message")
    elif message.get("is_deleted"):
        src.event(mid, "delete", f"delete:{mid}", None)
    elif isinstance(mid, str) and mid and src.sender_id:
        _message(message, mid, src)
    else:
        src.out.skipped.append("message without mid or sender")


def _message(message: dict[str, Any], mid: str, src: _Source) -> None:
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
    sender = Address(src.channel, src.sender_id)
    src.out.messages.append(
        Incoming(
            InboundMessage(
                channel=src.channel,
                connector_id=src.connector_id,
                external_id=mid,
                sender=sender,
                text="\n".join(t for t in texts if t),
                reply_to=sender,
                received_at=src.at,
                meta=meta,
                # A quick reply or button tapped gives back the payload we sent with it.
                choice=payload
                if isinstance(payload := meta.get("payload"), str) and payload
                else None,
            ),
            tuple(media),
        )
    )
