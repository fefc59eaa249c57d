"""An agent changes a ticket's fields: status, priority, assignee, tags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.actions.measure import StatusChange, status_events
from hub.actions.solved import AfterChange, StatusMove, after_status_change
from hub.actions.ticket_status import ActionRefused, status_values
from hub.agents.accounts import Actor, agent_usernames
from hub.assignment.records import Assigned, record_assignments
from hub.notify.events import NotifyRules, TicketEvent, record_events
from hub.sla.clocks import SlaClocks
from hub.store import Store
from hub.store.schema import tickets
from hub.tickets.access import ticket_for
from hub.tickets.status_events import emit_status_change

_UNSET: Any = object()


@dataclass(frozen=True)
class TicketChange:
    status: str | None = None
    priority: str | None = None
    assignee: str | None = _UNSET  # None unassigns; _UNSET leaves it
    tags: tuple[str, ...] | None = None


async def update_ticket(
    store: Store,
    actor: Actor,
    ticket_id: int,
    change: TicketChange,
    *,
    notify: NotifyRules,
    after: AfterChange,
) -> None:
    """Apply the change; an escalation (priority raised, a VIP tag added) is queued for
    the channels `notify` names for the ticket's routing rule, and the SLA clocks follow
    (a new status moves them, a new priority or tags re-evaluate the policy), in the same
    transaction."""
    async with store.write() as conn:
        row = await ticket_for(conn, actor, ticket_id)
        values: dict[str, Any] = {}
        measure = after.measure
        now = measure.clock()
        agent = actor.username if actor.kind == "agent" else None
        if change.status is not None and change.status != row.status:
            values.update(await status_values(conn, row, change.status))
            await measure.record(
                conn,
                await status_events(conn, measure, row, change.status, StatusChange(now, agent)),
            )
        if change.priority is not None:
            values["priority"] = change.priority
        if change.tags is not None:
            values["tags"] = sorted(set(change.tags))
        if change.assignee is not _UNSET and change.assignee != row.assignee:
            if change.assignee is not None and change.assignee not in await agent_usernames(
                conn, row.team_id
            ):
                raise ActionRefused(f"{change.assignee!r} is not an agent of team {row.team_id}")
            values["assignee"] = change.assignee
        if values:
            values["updated_at"] = now
            await conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(values))
            move = StatusMove(row, values.get("status"), now)
            await after_status_change(store, conn, after.on_solve, move)
            if "status" in values:
                await emit_status_change(
                    conn, ticket_id, row.customer_id, (row.status, values["status"]), now
                )
        await _move_clocks(conn, after.sla, row, values, now)
        reasons = notify.escalations(
            row.priority, values.get("priority", row.priority), row.tags, values.get("tags", ())
        )
        events = [TicketEvent(ticket_id, row.route_rule, "escalated", r) for r in reasons]
        await record_events(store, conn, notify, events, now)
        if values.get("assignee") is not None:
            # A person's pick, in the ticket's assignment history beside the automatic ones.
            picked = Assigned(
                ticket_id, row.customer_id, row.team_id, values["assignee"], row.assignee, "manual"
            )
            await record_assignments(conn, [picked], values["updated_at"])


async def _move_clocks(
    conn: AsyncConnection, sla: SlaClocks, row: Any, values: dict[str, Any], now: datetime
) -> None:
    if "status" in values:
        await sla.status_changed(conn, [row.id], now)
    changed = [
        f"{field} {row_value} -> {new}"
        for field, row_value, new in (
            ("priority", row.priority, values.get("priority", row.priority)),
            ("tags", sorted(row.tags or ()), values.get("tags", sorted(row.tags or ()))),
        )
        if row_value != new
    ]
    if changed:
        await sla.reevaluate(conn, row.id, "; ".join(changed), now)
