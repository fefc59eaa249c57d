"""A chat conversation as its channel shows it: what one address said and was told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from hub.messages import Address, Choice
from hub.store import Store
from hub.store.schema import messages, outbox

MAX_HISTORY = 200


@dataclass(frozen=True)
class HistoryItem:
    message_id: int
    direction: str  # "in" from the customer, "out" to them
    text: str
    created_at: datetime
    kind: str | None  # for outgoing: acknowledgement, agent_reply, bot_answer, ...
    status: str | None  # for outgoing: pending, sent, dead, ...
    # The answers it offered as buttons (a survey's), so a widget shows them again.
    choices: tuple[Choice, ...] = ()


async def conversation_history(
    store: Store, connector_id: str, address: Address, limit: int = 50
) -> list[HistoryItem]:
    """The last `limit` messages between the hub and `address` on this connector, oldest first."""
    limit = max(1, min(limit, MAX_HISTORY))
    async with store.read() as conn:
        inbound = (
            await conn.execute(
                select(messages.c.id, messages.c.body_text, messages.c.created_at)
                .where(
                    messages.c.connector_id == connector_id,
                    messages.c.direction == "in",
                    messages.c.sender == address.value,
                )
                .order_by(messages.c.id.desc())
                .limit(limit)
            )
        ).all()
        outbound = (
            await conn.execute(
                select(
                    messages.c.id,
                    messages.c.body_text,
                    messages.c.created_at,
                    outbox.c.kind,
                    outbox.c.status,
                    outbox.c.payload,
                )
                .join(outbox, outbox.c.message_id == messages.c.id)
                .where(
                    outbox.c.connector_id == connector_id,
                    outbox.c.recipient_kind == address.kind,
                    outbox.c.recipient == address.value,
                    outbox.c.status != "cancelled",
                )
                .order_by(messages.c.id.desc())
                .limit(limit)
            )
        ).all()
    items = [HistoryItem(r.id, "in", r.body_text, r.created_at, None, None) for r in inbound]
    items += [
        HistoryItem(r.id, "out", r.body_text, r.created_at, r.kind, r.status, _choices(r.payload))
        for r in outbound
    ]
    items.sort(key=lambda i: (i.created_at, i.message_id))
    return items[-limit:]


def _choices(payload: object) -> tuple[Choice, ...]:
    raw = payload.get("choices") if isinstance(payload, dict) else None
    if not isinstance(raw, list):
        return ()
    return tuple(
        Choice(str(c["label"]), str(c["payload"]))
        for c in raw
        if isinstance(c, dict) and "label" in c and "payload" in c
    )
