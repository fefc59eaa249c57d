"""Every pending deadline computed again: after an operator edits a calendar (a new
holiday, new hours) or a policy's targets, `hub sla recompute` puts the running clocks
on the new terms. Each clock keeps its start and the open time it has spent; what is
left of its target is counted on the calendar as it is now.

Pages of targets by id, one transaction each: a hub running meanwhile sees each page
before or after, never half of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select, update

from hub.sla.clocks import refresh_due
from hub.sla.deadline import ClockState, schedule
from hub.sla.policy import SlaRules
from hub.store import Store
from hub.store.schema import sla_targets, tickets

_T = sla_targets.c
PAGE = 5000

_WRITE = (
    update(sla_targets)
    .where(_T.id == bindparam("target_id"))
    .values(
        calendar=bindparam("new_calendar"),
        target_seconds=bindparam("new_target_seconds"),
        due_at=bindparam("new_due_at"),
        warn_at=bindparam("new_warn_at"),
        breach_notify_at=bindparam("new_breach_notify_at"),
    )
)


@dataclass(frozen=True)
class Recomputed:
    clocks: int
    moved: int


async def recompute_deadlines(store: Store, rules: SlaRules) -> Recomputed:
    """Every running, pending clock on the current calendars and targets."""
    after, clocks, moved = 0, 0, 0
    while True:
        async with store.write() as conn:
            rows = (
                await conn.execute(
                    select(
                        _T.id, _T.ticket_id, _T.kind, _T.policy, _T.calendar, _T.target_seconds,
                        _T.running_since, _T.consumed_seconds, _T.due_at, _T.warned_at,
                        tickets.c.team_id, tickets.c.priority,
                    )
                    .join(tickets, tickets.c.id == _T.ticket_id)
                    .where(_T.id > after, _T.status == "pending", _T.running_since.is_not(None))
                    .order_by(_T.id)
                    .limit(PAGE)
                )
            ).all()  # fmt: skip
            if not rows:
                return Recomputed(clocks, moved)
            writes, moved_tickets = [], set()
            for r in rows:
                if (w := _recomputed(rules, r)) is not None:
                    writes.append(w)
                    moved_tickets.add(r.ticket_id)
            if writes:
                await conn.execute(_WRITE, writes)
                await refresh_due(conn, sorted(moved_tickets))
            clocks += len(rows)
            moved += len(writes)
            after = rows[-1].id


def _recomputed(rules: SlaRules, r: Any) -> dict[str, Any] | None:
    """The row's new values, or None when nothing changes."""
    applied = rules.applied_policy(r.policy, r.priority)
    target = applied.targets.get(r.kind) if applied else None
    # A policy or target removed since: the clock keeps the terms it started on.
    seconds = int(target.duration.total_seconds()) if target else r.target_seconds
    calendar = target.calendar if target else rules.calendar(r.calendar)
    state = ClockState(
        timedelta(seconds=seconds), timedelta(seconds=r.consumed_seconds), r.running_since, calendar
    )
    values = schedule(
        state, rules.notifying(r.policy, r.team_id), rules.warn_before, r.warned_at is not None
    )
    if values["due_at"] == r.due_at and seconds == r.target_seconds:
        return None
    return {
        "target_id": r.id,
        "new_calendar": calendar.name,
        "new_target_seconds": seconds,
        "new_due_at": values["due_at"],
        "new_warn_at": values["warn_at"],
        "new_breach_notify_at": values["breach_notify_at"],
    }
