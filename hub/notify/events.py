"""Ticket notifications as they happen: which notification connectors hear of a ticket
opened or escalated, written as pending rows in the caller's transaction.

The rows exist exactly when the change that caused them does; hub.notify.sweep gathers
them into batched posts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.loader import RoutingConfig
from hub.config.notify import PRIORITY_ORDER, NotificationsConfig
from hub.store import Store
from hub.store.schema import notification_events


@dataclass(frozen=True)
class TicketEvent:
    ticket_id: int
    rule: str | None  # the routing rule that opened the ticket
    kind: str  # opened | escalated
    reason: str = ""


@dataclass(frozen=True)
class _Target:
    connectors: tuple[str, ...]
    kinds: frozenset[str]


class NotifyRules:
    """The `notify` of each routing rule, and what counts as an escalation."""

    def __init__(self, routing: RoutingConfig, settings: NotificationsConfig) -> None:
        self._by_rule = {
            r.name: _Target(tuple(r.notify), frozenset(r.notify_on))
            for r in routing.rules
            if r.notify
        }
        self._escalate_rank = PRIORITY_ORDER.index(settings.escalate_priority)
        self._escalate_tags = frozenset(settings.escalate_tags)

    @property
    def connectors(self) -> list[str]:
        """Every connector some rule notifies."""
        return sorted({c for t in self._by_rule.values() for c in t.connectors})

    def targets(self, rule: str | None, kind: str) -> tuple[str, ...]:
        target = self._by_rule.get(rule) if rule is not None else None
        if target is None or kind not in target.kinds:
            return ()
        return target.connectors

    def escalations(
        self,
        old_priority: str,
        new_priority: str,
        old_tags: Iterable[str],
        new_tags: Iterable[str],
    ) -> list[str]:
        """Why a change escalates a ticket: priority raised to the threshold or above, an
        escalation tag added. Pure, for the callers that change tickets."""
        reasons = []
        old_rank, new_rank = _rank(old_priority), _rank(new_priority)
        if new_rank > old_rank and new_rank >= self._escalate_rank:
            reasons.append(f"priority {new_priority}")
        for tag in sorted((set(new_tags) - set(old_tags)) & self._escalate_tags):
            reasons.append(f"tag {tag}")
        return reasons


def _rank(priority: str) -> int:
    return PRIORITY_ORDER.index(priority) if priority in PRIORITY_ORDER else 1


async def record_events(
    store: Store,
    conn: AsyncConnection,
    rules: NotifyRules,
    events: Sequence[TicketEvent],
    now: datetime,
) -> int:
    """Queue each event for the connectors its ticket's rule notifies; returns how many
    rows were written. A repeat (same ticket, connector, kind and reason) is dropped."""
    rows = [
        {
            "connector_id": connector_id,
            "ticket_id": e.ticket_id,
            "kind": e.kind,
            "reason": e.reason[:100],
            "status": "pending",
            "created_at": now,
        }
        for e in events
        for connector_id in rules.targets(e.rule, e.kind)
    ]
    if not rows:
        return 0
    result = await conn.execute(
        store.insert(notification_events)
        .on_conflict_do_nothing(index_elements=["ticket_id", "connector_id", "kind", "reason"])
        .returning(notification_events.c.id),
        rows,
    )
    return len(result.all())
