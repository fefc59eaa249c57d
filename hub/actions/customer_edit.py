"""An agent's or the API's edit of a customer record, and what it sets off: a change of
tags re-evaluates the SLA policy of the customer's open tickets (a policy may match on
`customer_tags`), recorded on each ticket's SLA timeline."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.actions.solved import AfterChange
from hub.customers.views import update_customer
from hub.store.schema import customers, tickets
from hub.tickets.records import OPEN_STATUSES


async def edit_customer(
    conn: AsyncConnection,
    after: AfterChange,
    customer_id: int,
    values: dict[str, Any],
    source: str = "api",
) -> None:
    """`update_customer`, in the caller's transaction, then the open tickets' SLA policy
    again when the tags changed."""
    before: list[str] | None = None
    if "tags" in values:
        found = await conn.execute(select(customers.c.tags).where(customers.c.id == customer_id))
        before = sorted(found.scalar() or [])
    await update_customer(conn, customer_id, values, source)
    if before is None or before == sorted(values["tags"]):
        return
    why = f"customer tags {before} -> {sorted(values['tags'])}"
    now = after.measure.clock()
    open_tickets = await conn.execute(
        select(tickets.c.id)
        .where(tickets.c.customer_id == customer_id, tickets.c.status.in_(OPEN_STATUSES))
        .order_by(tickets.c.id)
    )
    for ticket_id in open_tickets.scalars().all():
        await after.sla.reevaluate(conn, ticket_id, why, now)
