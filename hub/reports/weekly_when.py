"""When a weekly summary is due and which week it covers. Pure: an instant and a schedule
in, a week out.

A summary set for 'monday 08:00' in a zone covers the seven local days before each Monday
and is due at 08:00 local time that Monday. At any instant the week due is the one of the
latest send time passed; it stays due until the next send time, so a hub down at the hour
sends it when it comes back within the week, and one down all week skips it for the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Week:
    start: date  # its first local day
    end: date  # its last local day (inclusive)
    due_at: datetime  # when its summary goes out (UTC)

    def previous(self) -> tuple[date, date]:
        """The seven days before, for comparison."""
        return self.start - WEEK, self.end - WEEK


def send_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`at` on the local `day`, as a UTC instant. A time the clocks skip (02:30 on a
    spring-forward night) is read at the offset before the change, an hour later on the
    clock; a time they repeat, the first of the two."""
    local = datetime.combine(day, at).replace(tzinfo=zone, fold=0)
    return local.astimezone(UTC)


def due_week(now: datetime, weekday: int, at: time, zone: ZoneInfo) -> Week:
    """The week whose summary is due at `now`: that of the latest send time at or before it."""
    today = now.astimezone(zone).date()
    day = today - timedelta(days=(today.weekday() - weekday) % 7)
    due = send_instant(day, at, zone)
    if due > now:
        day -= WEEK
        due = send_instant(day, at, zone)
    return Week(start=day - WEEK, end=day - timedelta(days=1), due_at=due)
