"""Queuing outgoing messages: recorded on their ticket and in the outbox, in the caller's
transaction, so a reply exists exactly when the change that caused it does. Every outbox
row is written here; the worker only updates them (hub.outbox.lease, hub.outbox.outcomes)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.messages import Address, Choice, TemplateMessage
from hub.store.many import Many
from hub.store.schema import messages, outbox


@dataclass(frozen=True)
class Outbound:
    """One outgoing message to record on its ticket and queue.

    `consent_channel` makes the send depend on the customer's consent on that channel at
    send time. `idempotency_key` defaults to a fresh one; callers with a natural key (a
    greeting's customer, occasion and year) pass it so the database refuses a second row.
    """

    connector_id: str
    ticket_id: int | None
    customer_id: int | None
    to: Address
    kind: str
    subject: str | None
    text: str
    html: str | None
    auto_submitted: bool
    language: str | None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    consent_channel: str | None = None
    list_unsubscribe: str | None = None
    idempotency_key: str | None = None
    # What the bot says in a shared conversation (messages.conversation), before a ticket.
    conversation: str | None = None
    # An approved template to send instead of free text (hub.connector.ReplyWindow).
    template: str | None = None
    # A greeting's or campaign's approved template, parameters filled (kept in `payload`).
    template_message: TemplateMessage | None = None
    # "Send later": the worker claims only rows that are due (None: now).
    send_at: datetime | None = None
    # Buttons to offer (a survey's ratings), kept in `payload` (hub.outbox.compose).
    choices: tuple[Choice, ...] = ()
    # A message the customer may refuse (a survey): cancelled at send time if the customer
    # has opted out on this channel by then; unlike `consent_channel`, no opt-in is needed.
    unless_opted_out: str | None = None
    # Cancelled at send time unless its ticket's status is one of these (a survey: solved).
    while_ticket: tuple[str, ...] = ()


async def enqueue_outbound(conn: AsyncConnection, *, now: datetime, **fields: Any) -> int:
    """Queue one message (the fields of `Outbound`); returns its outbox id."""
    out = Outbound(**fields)
    key = out.idempotency_key or uuid.uuid4().hex
    message_id = (
        await conn.execute(messages.insert().returning(messages.c.id), _message_row(out, key, now))
    ).scalar_one()
    return int(
        (
            await conn.execute(
                outbox.insert().returning(outbox.c.id), _outbox_row(out, key, message_id, now)
            )
        ).scalar_one()
    )


@dataclass(frozen=True)
class ChannelPost:
    """One post to a team channel (a notification, an alert): no conversation's, so no
    message row; `key` is its idempotency key."""

    connector_id: str
    key: str
    kind: str
    subject: str
    body: str
    payload: dict[str, Any] | None = None


async def enqueue_post(conn: AsyncConnection, post: ChannelPost, *, now: datetime) -> int:
    """Queue one channel post in the caller's transaction; returns its outbox id."""
    return int(
        (
            await conn.execute(
                outbox.insert()
                .values(
                    connector_id=post.connector_id,
                    ticket_id=None,
                    message_id=None,
                    idempotency_key=post.key,
                    kind=post.kind,
                    recipient_kind="channel",
                    recipient=post.connector_id,
                    subject=post.subject,
                    body_text=post.body,
                    auto_submitted=True,
                    references=[],
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    payload=post.payload,
                )
                .returning(outbox.c.id)
            )
        ).scalar_one()
    )


_APPEND_OUTBOX = Many(outbox.insert(), deferred=True)


_INSERT_MESSAGES = Many(messages.insert().returning(messages.c.id, messages.c.external_id))


async def enqueue_outbound_many(
    conn: AsyncConnection, items: Sequence[Outbound], *, now: datetime
) -> None:
    """`enqueue_outbound` for many messages, with two statements in all."""
    if not items:
        return
    keys = [out.idempotency_key or uuid.uuid4().hex for out in items]
    result = await _INSERT_MESSAGES.run(
        conn, [_message_row(out, key, now) for out, key in zip(items, keys, strict=True)]
    )
    # Matched by external_id (unique), not by position: RETURNING order is not promised.
    ids = {r.external_id: r.id for r in result}
    await _APPEND_OUTBOX.run(
        conn,
        [
            _outbox_row(out, key, ids[f"out:{key}"], now)
            for out, key in zip(items, keys, strict=True)
        ],
    )


def _message_row(out: Outbound, key: str, now: datetime) -> dict[str, Any]:
    return {
        "channel": out.connector_id,
        "external_id": f"out:{key}",
        "connector_id": out.connector_id,
        "direction": "out",
        "ticket_id": out.ticket_id,
        "customer_id": out.customer_id,
        "sender": None,
        "subject": out.subject,
        "body_text": out.text,
        "body_html": out.html,
        "language": out.language,
        "auto_submitted": out.auto_submitted,
        "meta": {"kind": out.kind, "to": out.to.value},
        "conversation": out.conversation,
        "received_at": now,
        "created_at": now,
    }


def _outbox_row(out: Outbound, key: str, message_id: int, now: datetime) -> dict[str, Any]:
    return {
        "connector_id": out.connector_id,
        "ticket_id": out.ticket_id,
        "message_id": message_id,
        "idempotency_key": key,
        "kind": out.kind,
        "recipient_kind": out.to.kind,
        "recipient": out.to.value,
        "recipient_name": out.to.display_name,
        "subject": out.subject,
        "body_text": out.text,
        "body_html": out.html,
        "auto_submitted": out.auto_submitted,
        "in_reply_to": out.in_reply_to,
        "references": list(out.references),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": out.send_at if out.send_at is not None and out.send_at > now else now,
        "created_at": now,
        "customer_id": out.customer_id,
        "consent_channel": out.consent_channel,
        "list_unsubscribe": out.list_unsubscribe,
        "template": out.template,
        "payload": _payload(out),
    }


def _payload(out: Outbound) -> dict[str, Any] | None:
    payload: dict[str, Any] = {}
    if out.template_message:
        payload["template"] = out.template_message.to_json()
    if out.choices:
        payload["choices"] = [{"label": c.label, "payload": c.payload} for c in out.choices]
    if out.unless_opted_out:
        payload["unless_opted_out"] = out.unless_opted_out
    if out.while_ticket:
        payload["while_ticket"] = list(out.while_ticket)
    return payload or None
