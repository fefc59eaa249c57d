"""WhatsApp Cloud API webhook deliveries -> messages and events (pure: data in, data out).

https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components: a delivery
is {"object": "whatsapp_business_account", "entry": [{"changes": [{"field", "value"}]}]};
field "messages" carries `messages` (from customers) and `statuses` (of ours). Every other
field (templates, account, calls, echoes of the business app) is read and left alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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

CHANNEL = "whatsapp"
MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
STATUSES = frozenset({"sent", "delivered", "read", "played", "failed"})


def parse_whatsapp(body: Any, connector_id: str) -> Parsed:
    if not isinstance(body, dict) or body.get("object") != "whatsapp_business_account":
        raise BadDelivery("not a WhatsApp Business Account delivery")
    out = Parsed()
    for entry in as_list(body.get("entry")):
        for change in as_list(as_dict(entry).get("changes")):
            change = as_dict(change)
            field_name = change.get("field")
            value = as_dict(change.get("value"))
            if field_name != "messages":
                out.skipped.append(f"field {field_name}")
                continue
            names = _profile_names(value)
            for raw in as_list(value.get("messages")):
                _message(as_dict(raw), value, names, connector_id, out)
            for raw in as_list(value.get("statuses")):
                _status(as_dict(raw), connector_id, out)
    return out


def _profile_names(value: dict[str, Any]) -> dict[str, str]:
    names = {}
    for c in as_list(value.get("contacts")):
        c = as_dict(c)
        name = as_dict(c.get("profile")).get("name")
        if isinstance(c.get("wa_id"), str) and isinstance(name, str):
            names[c["wa_id"]] = name
    return names


@dataclass(frozen=True)
class _Said:
    """One customer message: its id, who sent it and when, through which connector."""

    connector_id: str
    wamid: str
    wa_id: str
    at: Any

    def event(self, target: str, kind: str, value: str | None) -> MessageEvent:
        return MessageEvent(
            channel=CHANNEL,
            connector_id=self.connector_id,
            ref=target,
            kind=kind,
            key=f"{kind}:{self.wamid}",
            value=value,
            occurred_at=self.at,
            detail={"by": self.wa_id},
        )


def _message(
    m: dict[str, Any],
    value: dict[str, Any],
    names: dict[str, str],
    connector_id: str,
    out: Parsed,
) -> None:
    wamid, wa_id, kind = m.get("id"), m.get("from"), m.get("type")
    if not isinstance(wamid, str) or not wamid or not isinstance(wa_id, str) or not wa_id:
        out.skipped.append("message without id or sender")
        return
    at = from_unix(m.get("timestamp"))
    if kind in ("reaction", "edit", "revoke"):
        _change(kind, m, _Said(connector_id, wamid, wa_id, at), out)
        return
    text, media, meta = _content(kind, m)
    errors = as_list(m.get("errors")) or as_list(value.get("errors"))
    if errors:
        meta["errors"] = errors[:5]
        if not text:
            first = as_dict(errors[0])
            text = f"[WhatsApp could not show this message: {first.get('title') or 'error'}]"
    _context(m, meta)
    name = names.get(wa_id)
    sender = Address("whatsapp", wa_id, name)
    identities: tuple[Address, ...] = (Address("phone", f"+{wa_id}", name),)
    system = as_dict(m.get("system"))
    if kind == "system" and isinstance(system.get("wa_id"), str) and system["wa_id"]:
        # The customer's new number: it joins their record, so they stay one customer.
        new = system["wa_id"]
        identities += (Address("whatsapp", new, name), Address("phone", f"+{new}", name))
    meta.update({"kind": kind or "unknown", "wa_id": wa_id, "phone_number_id": _pnid(value)})
    out.messages.append(
        Incoming(
            InboundMessage(
                channel=CHANNEL,
                connector_id=connector_id,
                external_id=wamid,
                sender=sender,
                text=text,
                identities=identities,
                reply_to=sender,
                received_at=at,
                auto_submitted=kind == "system",
                meta=meta,
                # A tapped reply button or list row gives back the id we sent with it.
                choice=_choice(meta) if kind == "interactive" else None,
            ),
            media,
        )
    )


def _choice(meta: dict[str, Any]) -> str | None:
    reply_id = meta.get("reply_id")
    return reply_id if isinstance(reply_id, str) and reply_id else None


def _change(kind: str, m: dict[str, Any], said: _Said, out: Parsed) -> None:
    """A reaction to an earlier message, an edit of it or its deletion."""
    if kind == "reaction":
        r = as_dict(m.get("reaction"))
        target = r.get("message_id")
        if isinstance(target, str) and target:
            out.events.append(said.event(target, "reaction", r.get("emoji") or ""))
        return
    section = as_dict(m.get(kind))
    target = section.get("original_message_id")
    if not isinstance(target, str) or not target:
        out.skipped.append(f"{kind} without original_message_id")
        return
    if kind == "revoke":
        out.events.append(said.event(target, "delete", None))
        return
    edited = as_dict(section.get("message"))
    text, media, _ = _content(edited.get("type"), edited)
    ev = said.event(target, "edit", text)
    ev.detail["type"] = edited.get("type")
    if media:
        ev.detail["media_ids"] = [ref.media_id for ref in media]
    out.events.append(ev)


def _context(m: dict[str, Any], meta: dict[str, Any]) -> None:
    """What the message says about where it came from: forwarded, a reply, an ad."""
    context = as_dict(m.get("context"))
    for flag in ("forwarded", "frequently_forwarded"):
        if context.get(flag) is True:
            meta[flag] = True
    if isinstance(context.get("id"), str):
        meta["reply_to_message"] = context["id"]
    if m.get("referral"):
        meta["referral"] = as_dict(m["referral"])


def _content(kind: Any, m: dict[str, Any]) -> tuple[str, tuple[MediaRef, ...], dict[str, Any]]:
    """The text agents read, the media to fetch, and what else is worth keeping."""
    meta: dict[str, Any] = {}
    if kind in MEDIA_KINDS:
        text, refs = _media(kind, as_dict(m.get(kind)), meta)
        return text, refs, meta
    read = _TEXT_OF.get(kind) if isinstance(kind, str) else None
    return (read(m, meta) if read is not None else ""), (), meta


def _media(
    kind: str, section: dict[str, Any], meta: dict[str, Any]
) -> tuple[str, tuple[MediaRef, ...]]:
    media_id = section.get("id")
    ctype = str(section.get("mime_type") or "application/octet-stream")
    if kind == "audio" and section.get("voice") is True:
        meta["voice"] = True
    if kind == "sticker":
        meta["animated"] = section.get("animated") is True
    refs: tuple[MediaRef, ...] = ()
    if isinstance(media_id, str) and media_id:
        name = media_filename(kind, media_id, ctype, section.get("filename"))
        refs = (MediaRef(name, ctype, media_id=media_id),)
    return str(section.get("caption") or ""), refs


def _text(m: dict[str, Any], meta: dict[str, Any]) -> str:
    return str(as_dict(m.get("text")).get("body") or "")


def _location(m: dict[str, Any], meta: dict[str, Any]) -> str:
    loc = as_dict(m.get("location"))
    meta["location"] = loc
    place = ", ".join(str(loc[k]) for k in ("name", "address") if loc.get(k))
    coords = f"{loc.get('latitude')}, {loc.get('longitude')}"
    return f"Location: {place} ({coords})" if place else f"Location: {coords}"


def _contacts(m: dict[str, Any], meta: dict[str, Any]) -> str:
    cards = [as_dict(c) for c in as_list(m.get("contacts"))]
    meta["contacts"] = cards
    lines = []
    for c in cards:
        phones = ", ".join(
            str(as_dict(p).get("phone")) for p in as_list(c.get("phones")) if as_dict(p)
        )
        who = as_dict(c.get("name")).get("formatted_name") or "?"
        lines.append(f"Contact: {who}" + (f" ({phones})" if phones else ""))
    return "\n".join(lines)


def _button(m: dict[str, Any], meta: dict[str, Any]) -> str:
    button = as_dict(m.get("button"))
    meta["payload"] = button.get("payload")
    return str(button.get("text") or "")


def _interactive(m: dict[str, Any], meta: dict[str, Any]) -> str:
    inter = as_dict(m.get("interactive"))
    itype = inter.get("type")
    meta["interactive"] = itype
    section = as_dict(inter.get(itype)) if isinstance(itype, str) else {}
    if itype in ("button_reply", "list_reply"):
        meta["reply_id"] = section.get("id")
        text = str(section.get("title") or "")
        if section.get("description"):
            text += f" — {section['description']}"
        return text
    if itype == "nfm_reply":
        try:
            meta["flow_response"] = json.loads(section.get("response_json") or "{}")
        except (json.JSONDecodeError, TypeError):
            meta["flow_response"] = section.get("response_json")
        return str(section.get("body") or "Form submitted")
    if itype == "call_permission_reply":
        meta["call_permission"] = section.get("response")
        return f"Call permission: {section.get('response')}"
    return ""


def _order(m: dict[str, Any], meta: dict[str, Any]) -> str:
    order = as_dict(m.get("order"))
    meta["order"] = order
    items = [
        f"{as_dict(i).get('quantity')} x {as_dict(i).get('product_retailer_id')} "
        f"@ {as_dict(i).get('item_price')} {as_dict(i).get('currency')}"
        for i in as_list(order.get("product_items"))
    ]
    return "\n".join(["Order:", *items, str(order.get("text") or "")]).strip()


def _system(m: dict[str, Any], meta: dict[str, Any]) -> str:
    return str(as_dict(m.get("system")).get("body") or "System notice")


def _unsupported(m: dict[str, Any], meta: dict[str, Any]) -> str:
    inner = as_dict(m.get("unsupported")).get("type")
    return f"[a message type WhatsApp does not support here: {inner or 'unknown'}]"


# The text (and meta) of each kind of message that carries no media.
_TEXT_OF: dict[str, Callable[[dict[str, Any], dict[str, Any]], str]] = {
    "text": _text,
    "location": _location,
    "contacts": _contacts,
    "button": _button,
    "interactive": _interactive,
    "order": _order,
    "system": _system,
    "unsupported": _unsupported,
}


def _status(s: dict[str, Any], connector_id: str, out: Parsed) -> None:
    ref, status = s.get("id"), s.get("status")
    if s.get("type") == "call" or not isinstance(ref, str) or status not in STATUSES:
        out.skipped.append(f"status {status!r}")
        return
    detail: dict[str, Any] = {"recipient_id": s.get("recipient_id")}
    if s.get("errors"):
        detail["errors"] = as_list(s["errors"])[:5]
    if s.get("biz_opaque_callback_data"):
        detail["tracker"] = s["biz_opaque_callback_data"]
    out.events.append(
        MessageEvent(
            channel=CHANNEL,
            connector_id=connector_id,
            ref=ref,
            kind="status",
            key=f"status:{ref}:{status}:{s.get('recipient_id')}",
            value=str(status),
            occurred_at=from_unix(s.get("timestamp")),
            detail=detail,
        )
    )


def _pnid(value: dict[str, Any]) -> Any:
    return as_dict(value.get("metadata")).get("phone_number_id")
