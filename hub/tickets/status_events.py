"""The outgoing event of a ticket's status change (hub.events.outgoing), the same wherever
it changes: an agent's update or reply, a customer's answer, a chat ended."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.outgoing import TICKET_STATUS_CHANGED, OutgoingEvent, emit


def status_changed(ticket_id: int, customer_id: int, previous: str, status: str) -> OutgoingEvent:
    return OutgoingEvent(
        TICKET_STATUS_CHANGED,
        {
            "ticket_id": ticket_id,
            "ref": f"T-{ticket_id}",
            "customer_id": customer_id,
            "previous_status": previous,
            "status": status,
        },
        customer_id=customer_id,
        ticket_id=ticket_id,
    )


async def emit_status_change(
    conn: AsyncConnection,
    ticket_id: int,
    customer_id: int,
    change: tuple[str, str],
    now: datetime,
) -> None:
    """In the caller's transaction, when (previous, new) differ."""
    previous, status = change
    if previous != status:
        await emit(conn, [status_changed(ticket_id, customer_id, previous, status)], now)
