"""Queuing an outgoing message: recorded on its ticket and in the outbox, in one transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.messages import Address
from hub.store import Store
from hub.store.schema import messages, outbox


async def enqueue_outbound(
    store: Store,
    conn: AsyncConnection,
    *,
    connector_id: str,
    ticket_id: int | None,
    customer_id: int | None,
    to: Address,
    kind: str,
    subject: str | None,
    text: str,
    html: str | None,
    auto_submitted: bool,
    language: str | None,
    now: datetime,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    consent_channel: str | None = None,
    list_unsubscribe: str | None = None,
    idempotency_key: str | None = None,
) -> int:
    """Record an outgoing message and queue it, in the caller's transaction; the outbox id.

    `consent_channel` makes the send depend on the customer's consent on that channel at
    send time. `idempotency_key` defaults to a fresh one; callers with a natural key (a
    greeting's customer, occasion and year) pass it so the database refuses a second row.
    """
    key = idempotency_key or uuid.uuid4().hex
    message_id = (
        await conn.execute(
            messages.insert()
            .values(
                channel=connector_id,
                external_id=f"out:{key}",
                connector_id=connector_id,
                direction="out",
                ticket_id=ticket_id,
                customer_id=customer_id,
                sender=None,
                subject=subject,
                body_text=text,
                body_html=html,
                language=language,
                auto_submitted=auto_submitted,
                meta={"kind": kind, "to": to.value},
                received_at=now,
                created_at=now,
            )
            .returning(messages.c.id)
        )
    ).scalar_one()
    return int(
        (
            await conn.execute(
                outbox.insert()
                .values(
                    connector_id=connector_id,
                    ticket_id=ticket_id,
                    message_id=message_id,
                    idempotency_key=key,
                    kind=kind,
                    recipient_kind=to.kind,
                    recipient=to.value,
                    recipient_name=to.display_name,
                    subject=subject,
                    body_text=text,
                    body_html=html,
                    auto_submitted=auto_submitted,
                    in_reply_to=in_reply_to,
                    references=list(references),
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    customer_id=customer_id,
                    consent_channel=consent_channel,
                    list_unsubscribe=list_unsubscribe,
                )
                .returning(outbox.c.id)
            )
        ).scalar_one()
    )
