"""A clock's deadline and notice times from its state: pure.

A clock runs in segments (a pause ends one, a resume starts the next). `consumed` is the
open time spent in the segments before the running one, so the deadline is the target's
remaining open time counted on from the running segment's start: recomputed from the
original start whenever the target or the calendar changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.sla.calendar import Calendar
from hub.sla.policy import Notifying

KIND_LABELS = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
}


def label(kind: str, cycle: int) -> str:
    name = KIND_LABELS.get(kind, kind)
    return f"{name} #{cycle}" if kind == "next_response" else name


@dataclass(frozen=True)
class ClockState:
    target: timedelta
    consumed: timedelta
    running_since: datetime | None
    calendar: Calendar


def due_at(state: ClockState) -> datetime | None:
    """The deadline; None while the clock stands still (paused or stopped)."""
    if state.running_since is None:
        return None
    remaining = state.target - state.consumed
    if remaining <= timedelta(0):
        return state.running_since
    return state.calendar.add(state.running_since, remaining)


def spent(calendar: Calendar, since: datetime | None, now: datetime) -> timedelta:
    """Open time of the running segment up to now."""
    if since is None or now <= since:
        return timedelta(0)
    return calendar.elapsed(since, now)


def schedule(
    state: ClockState, notifying: Notifying, warn_before: timedelta, warned: bool
) -> dict[str, Any]:
    """due_at, warn_at and breach_notify_at of a target row in this state.

    A warning goes `warn_before` ahead of the deadline, unless that falls before the
    running segment began (a target shorter than the warning gets its breach only), or it
    already went. With business-hours-only notices both wait for the calendar to open.
    """
    due = due_at(state)
    if due is None:
        return {"due_at": None, "warn_at": None, "breach_notify_at": None}
    assert state.running_since is not None
    warn = due - warn_before
    warn_at = notifying.when(warn) if warn > state.running_since and not warned else None
    return {"due_at": due, "warn_at": warn_at, "breach_notify_at": notifying.when(due)}
