"""A ticket's status change, and the refusal every agent action may answer with."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.schema import tickets
from hub.tickets.records import OPEN_STATUSES, ticket_key, ticket_ref


class ActionRefused(ValueError):
    """The change is understood but cannot be made; the message says why (HTTP 409)."""


async def status_values(conn: AsyncConnection, row: Any, status: str) -> dict[str, Any]:
    """The new status, and the open key that keeps one open ticket per customer and channel
    (or per shared conversation)."""
    if status not in OPEN_STATUSES:
        return {"status": status, "open_key": None}
    key = ticket_key(row.customer_id, row.channel, row.connector_id, row.conversation)
    if row.open_key is None:
        clash = (
            await conn.execute(select(tickets.c.id).where(tickets.c.open_key == key))
        ).scalar_one_or_none()
        if clash is not None:
            whose = "the conversation" if row.conversation else "the customer"
            raise ActionRefused(
                f"{whose} already has an open ticket on this channel "
                f"({ticket_ref(clash)}); reopen that one instead"
            )
    return {"status": status, "open_key": key}
