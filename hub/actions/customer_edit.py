"""An agent's or the API's edit of a customer record, or a customer import's batch, and
what it sets off: a change of tags re-evaluates the SLA policy of the customer's open
tickets (a policy may match on `customer_tags`), recorded on each ticket's SLA timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.actions.solved import AfterChange
from hub.config.loader import Config
from hub.crm.parts import TagsChanged
from hub.customers.import_state import BatchOutcome
from hub.customers.importer import AfterBatch
from hub.customers.views import update_customer
from hub.sla.clocks import SlaClocks
from hub.sla.setup import sla_rules
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
    if before is not None:
        now = after.measure.clock()
        await tags_changed(conn, after.sla, customer_id, (before, sorted(values["tags"])), now)


async def tags_changed(
    conn: AsyncConnection,
    sla: SlaClocks,
    customer_id: int,
    change: tuple[list[str], list[str]],
    now: datetime,
) -> None:
    """The customer's tags went from change[0] to change[1] (sorted): each open ticket's
    SLA policy again, on its timeline."""
    before, after = change
    if before == after:
        return
    why = f"customer tags {before} -> {after}"
    open_tickets = await conn.execute(
        select(tickets.c.id)
        .where(tickets.c.customer_id == customer_id, tickets.c.status.in_(OPEN_STATUSES))
        .order_by(tickets.c.id)
    )
    for ticket_id in open_tickets.scalars().all():
        await sla.reevaluate(conn, ticket_id, why, now)


def tag_effects(config: Config) -> TagsChanged:
    """What a change of a customer's tags made outside the API sets off (a CRM pull), in
    its transaction: their open tickets go under the SLA policy that matches now."""
    sla = SlaClocks(sla_rules(config), zone=ZoneInfo(config.report_zone))

    async def changed(
        conn: AsyncConnection, customer_id: int, change: tuple[list[str], list[str]]
    ) -> None:
        await tags_changed(conn, sla, customer_id, change, sla.clock())

    return changed


def import_effects(config: Config) -> AfterBatch:
    """What a customer import's batch sets off, in its transaction: the open tickets of
    customers whose tags it changed go under the SLA policy that matches now."""
    changed = tag_effects(config)

    async def after_batch(conn: AsyncConnection, out: BatchOutcome) -> None:
        for customer_id, change in sorted(out.tag_changes.items()):
            await changed(conn, customer_id, change)

    return after_batch
