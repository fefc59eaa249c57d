"""An agent changes a ticket's fields: status, priority, assignee, tags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from hub.actions.ticket_status import ActionRefused, status_values
from hub.agents.accounts import Actor, agent_usernames
from hub.notify.events import NotifyRules, TicketEvent, record_events
from hub.store import Store, utcnow
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
) -> None:
    """Apply the change; an escalation (priority raised, a VIP tag added) is queued for
    the channels `notify` names for the ticket's routing rule, in the same transaction."""
    async with store.write() as conn:
        row = await ticket_for(conn, actor, ticket_id)
        values: dict[str, Any] = {}
        if change.status is not None and change.status != row.status:
            values.update(await status_values(conn, row, change.status))
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
            values["updated_at"] = utcnow()
            await conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(values))
            if "status" in values:
                await emit_status_change(
                    conn, ticket_id, row.customer_id, (row.status, values["status"]), utcnow()
                )
        reasons = notify.escalations(
            row.priority, values.get("priority", row.priority), row.tags, values.get("tags", ())
        )
        events = [TicketEvent(ticket_id, row.route_rule, "escalated", r) for r in reasons]
        await record_events(store, conn, notify, events, utcnow())
