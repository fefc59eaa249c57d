"""Outgoing events: what webhooks and CRM syncs hear of, as one row per event written in the
transaction of the change that caused it (a transactional outbox, as replies are).

Delivery is not here: hub.webhooks fans the rows out to endpoints and hub.crm reads the
customer events; both find them in `outgoing_events`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.many import Many
from hub.store.schema import outgoing_events

CUSTOMER_CREATED = "customer.created"
CUSTOMER_UPDATED = "customer.updated"
CUSTOMER_MERGED = "customer.merged"
CUSTOMER_ERASED = "customer.erased"
TICKET_CREATED = "ticket.created"
TICKET_ASSIGNED = "ticket.assigned"
TICKET_STATUS_CHANGED = "ticket.status_changed"
MESSAGE_RECEIVED = "message.received"
MESSAGE_SENT = "message.sent"
SLA_WARNING = "sla.warning"
SLA_BREACHED = "sla.breached"
CSAT_ANSWERED = "csat.answered"

EVENT_TYPES = (
    CUSTOMER_CREATED,
    CUSTOMER_UPDATED,
    CUSTOMER_MERGED,
    CUSTOMER_ERASED,
    TICKET_CREATED,
    TICKET_ASSIGNED,
    TICKET_STATUS_CHANGED,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    SLA_WARNING,
    SLA_BREACHED,
    CSAT_ANSWERED,
)


@dataclass(frozen=True)
class OutgoingEvent:
    type: str
    data: Mapping[str, Any] = field(default_factory=dict)
    customer_id: int | None = None
    ticket_id: int | None = None


_APPEND = Many(outgoing_events.insert(), deferred=True)


def new_event_keys(n: int) -> list[str]:
    """Standard Webhooks message ids, each the same on every delivery attempt of its event.

    Milliseconds since the epoch and then 96 random bits, in hex (40 characters): keys sort
    by when they were made, so their unique index grows at its end instead of at a random
    page per event, which was two thirds of an event's insert on SQLite. One read of the
    system's randomness for all n."""
    stamp = f"msg_{time.time_ns() // 1_000_000:012x}"
    random = secrets.token_hex(12 * n)
    return [stamp + random[i : i + 24] for i in range(0, 24 * n, 24)]


async def emit(conn: AsyncConnection, events: list[OutgoingEvent], now: datetime) -> None:
    """Record events in the caller's transaction; they exist exactly when the change does."""
    if not events:
        return
    unknown = {e.type for e in events} - set(EVENT_TYPES)
    if unknown:
        raise ValueError(f"unknown outgoing event types: {sorted(unknown)}")
    await _APPEND.run(
        conn,
        [
            {
                "event_key": key,
                "type": e.type,
                "customer_id": e.customer_id,
                "ticket_id": e.ticket_id,
                "data": dict(e.data),
                "created_at": now,
            }
            for e, key in zip(events, new_event_keys(len(events)), strict=True)
        ],
    )
