"""A person's data as one versioned JSON document (GDPR art. 15 and 20).

Only their own data: in a shared conversation (a group chat), their messages and nothing
another participant wrote; the conversation's ticket is listed without its subject.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.privacy.scope import person_of
from hub.store.schema import (
    attachments,
    campaign_sends,
    consents,
    customers,
    greeting_sends,
    identities,
    messages,
    purchases,
    tickets,
)

EXPORT_VERSION = 1


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return None
    return value


def _rows(rows: Any, skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in r._mapping.items() if k not in skip} for r in rows]


async def _by_customer(conn: AsyncConnection, table: Table, ids: tuple[int, ...]) -> list[Any]:
    return _rows(await conn.execute(select(table).where(table.c.customer_id.in_(ids))))


async def export_customer(conn: AsyncConnection, customer_id: int, now: datetime) -> dict[str, Any]:
    person = await person_of(conn, customer_id)
    ids = person.customer_ids
    profile = _rows(
        await conn.execute(
            select(customers).where(customers.c.id.in_(ids)).order_by(customers.c.id)
        ),
        skip=("birthday_md", "anniversary_md", "since_md"),
    )
    own = set(person.own_tickets)
    message_rows = _rows(
        await conn.execute(
            select(messages).where(messages.c.id.in_(person.messages)).order_by(messages.c.id)
        ),
        skip=("request_hash",),
    )
    # Tickets they wrote in but do not own (a group's) are listed, without their subject.
    joined = {m["ticket_id"] for m in message_rows if m["ticket_id"] is not None}
    ticket_rows = _rows(
        await conn.execute(
            select(tickets)
            .where(tickets.c.id.in_(own | set(person.shared_tickets) | joined))
            .order_by(tickets.c.id)
        ),
        skip=("open_key",),
    )
    for t in ticket_rows:
        shared = t["id"] not in own
        t["shared_conversation"] = shared
        if shared:
            t["subject"] = None
            t["customer_id"] = None
    attachment_rows = _rows(
        await conn.execute(
            select(attachments).where(attachments.c.message_id.in_(person.messages))
        ),
        skip=("content",),
    )
    document: dict[str, Any] = {
        "format": "hub.customer-export",
        "version": EXPORT_VERSION,
        "exported_at": now.isoformat(),
        "customer_id": customer_id,
        "profile": profile,
        "identities": await _by_customer(conn, identities, ids),
        "consents": await _by_customer(conn, consents, ids),
        "tickets": ticket_rows,
        "messages": message_rows,
        "attachments": attachment_rows,
        "purchases": await _by_customer(conn, purchases, ids),
        "greeting_deliveries": await _by_customer(conn, greeting_sends, ids),
        "campaign_deliveries": await _by_customer(conn, campaign_sends, ids),
    }
    return document
