"""Every pending deadline computed again: after an operator edits a calendar (a new
holiday, new hours) or a policy's targets, `hub sla recompute` puts the running clocks
on the new terms. Each clock keeps its start and the open time it has spent; what is
left of its target is counted on the calendar as it is now.

Pages of targets by id, one transaction each: a hub running meanwhile sees each page
before or after, never half of one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select, true, update

from hub.sla.calendar import Calendar
from hub.sla.clocks import refresh_due
from hub.sla.deadline import notices
from hub.sla.policy import SlaRules
from hub.store import Store
from hub.store.schema import sla_targets, tickets

_T = sla_targets.c
PAGE = 10_000

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


async def recompute_deadlines(
    store: Store, rules: SlaRules, calendars: Collection[str] | None = None
) -> Recomputed:
    """Every running, pending clock on the current calendars and targets; with
    `calendars`, only the clocks counted on those (after an edit of one calendar, the
    others cannot move; a policy edit needs them all)."""
    after, clocks, moved = 0, 0, 0
    only = _T.calendar.in_(sorted(calendars)) if calendars is not None else true()
    while True:
        async with store.write() as conn:
            rows = (
                await conn.execute(
                    select(
                        _T.id, _T.ticket_id, _T.kind, _T.policy, _T.calendar, _T.target_seconds,
                        _T.running_since, _T.consumed_seconds, _T.due_at,
                        _T.warned_at.is_not(None).label("warned"),
                        tickets.c.team_id, tickets.c.priority,
                    )
                    .join(tickets, tickets.c.id == _T.ticket_id)
                    .where(
                        _T.id > after, _T.status == "pending", _T.running_since.is_not(None), only
                    )
                    .order_by(_T.id)
                    .limit(PAGE)
                )
            ).all()  # fmt: skip
            if not rows:
                return Recomputed(clocks, moved)
            writes, moved_tickets = [], set()
            terms = _Terms(rules)
            for r in rows:
                if (w := _recomputed(rules, terms, r)) is not None:
                    writes.append(w)
                    moved_tickets.add(r.ticket_id)
            if writes:
                await conn.execute(_WRITE, writes)
                await refresh_due(conn, sorted(moved_tickets))
            clocks += len(rows)
            moved += len(writes)
            after = rows[-1].id


class _Terms(dict[tuple[str, str, str], tuple[int, Calendar] | None]):
    """(policy, priority, kind) -> the target's seconds and calendar now; None: gone."""

    def __init__(self, rules: SlaRules) -> None:
        super().__init__()
        self.rules = rules

    def __missing__(self, key: tuple[str, str, str]) -> tuple[int, Calendar] | None:
        applied = self.rules.applied_policy(key[0], key[1])
        target = applied.targets.get(key[2]) if applied else None
        found = (int(target.duration.total_seconds()), target.calendar) if target else None
        self[key] = found
        return found


def _recomputed(rules: SlaRules, terms: _Terms, r: Any) -> dict[str, Any] | None:
    """The row's new values, or None when nothing changes (most rows: only the deadline is
    computed for them, the notice times only for the clocks that moved)."""
    # A policy or target removed since: the clock keeps the terms it started on.
    seconds, calendar = terms[r.policy, r.priority, r.kind] or (
        r.target_seconds,
        rules.calendar(r.calendar),
    )
    left = seconds - r.consumed_seconds
    since = r.running_since
    due = calendar.add(since, timedelta(seconds=left)) if left > 0 else since
    if due == r.due_at and seconds == r.target_seconds and calendar.name == r.calendar:
        return None
    notifying = rules.notifying(r.policy, r.team_id)
    values = notices(due, since, notifying, rules.warn_before, bool(r.warned))
    return {
        "target_id": r.id,
        "new_calendar": calendar.name,
        "new_target_seconds": seconds,
        "new_due_at": values["due_at"],
        "new_warn_at": values["warn_at"],
        "new_breach_notify_at": values["breach_notify_at"],
    }
