"""The seam between SLA clocks and the calendars they count on.

A target counted in business time uses a named calendar from the YAML (hub.sla.calendars
builds them); one counted in calendar time uses CALENDAR_TIME, open around the clock. Both
are pure: `add` and `elapsed` are exact inverses of each other.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Calendar(Protocol):
    name: str

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant `duration` of open time after `start` (aware datetimes in, UTC out)."""
        ...

    def elapsed(self, a: datetime, b: datetime) -> timedelta:
        """Open time between a and b (a <= b); elapsed(s, add(s, d)) == d."""
        ...

    def is_open(self, t: datetime) -> bool: ...

    def next_open(self, t: datetime) -> datetime:
        """t if open, else the next instant the calendar opens."""
        ...


class _AroundTheClock:
    name = "calendar-time"

    # In UTC: `start + duration` on a ZoneInfo datetime is wall-clock arithmetic, an hour
    # off across a DST change, and so is `b - a` when both share one ZoneInfo.
    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start.astimezone(UTC) + duration

    def elapsed(self, a: datetime, b: datetime) -> timedelta:
        return b.astimezone(UTC) - a.astimezone(UTC)

    def is_open(self, t: datetime) -> bool:
        return True

    def next_open(self, t: datetime) -> datetime:
        return t


CALENDAR_TIME: Calendar = _AroundTheClock()
