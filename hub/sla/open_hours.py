"""A calendar's open time as instants: each local year's open intervals in UTC microseconds.

The opening hours are wall-clock times of the calendar's zone, day by day; each day's ranges
are turned into instants, so daylight saving falls out of the conversion:

- a wall time that does not exist (the hour skipped when clocks go forward) is taken as the
  instant the clocks jump: a range over the gap is that much shorter, and one inside it is
  not open at all;
- a wall time that exists twice (the hour repeated when clocks go back) is taken at its
  first occurrence as a start and at its last as an end: the repeated hour is open twice,
  as real time passes twice.

Instants are integers (microseconds since 1970 UTC), so sums and differences are exact.
A `YearBlock` holds one local year (from 1 January 00:00 to the next) as sorted, merged,
non-overlapping intervals with their running sums: what is open before an instant is one
bisection, and a whole year is skipped by its total.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.config.calendars import TimeRange

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
# Local years a calendar can count in: a block needs the last day of the year before.
FIRST_YEAR, LAST_YEAR = 2, 9998

ClosedDays = Callable[[int], frozenset[date]]
"""The days of one year on which the calendar is closed (public holidays, listed dates)."""


class OutOfRange(ValueError):
    """An instant outside the years a calendar counts in (2 to 9998)."""


@dataclass(frozen=True)
class Schedule:
    """What a calendar is open: the week's ranges, Monday first; per-date overrides; the
    closed days. An override wins over a closed day (a holiday the office opens anyway)."""

    zone: ZoneInfo
    weekly: Sequence[Sequence[TimeRange]]
    overrides: Mapping[date, Sequence[TimeRange]]
    closed: ClosedDays

    def ranges_on(self, day: date, closed: frozenset[date]) -> Sequence[TimeRange]:
        if day in self.overrides:
            return self.overrides[day]
        if day in closed:
            return ()
        return self.weekly[day.weekday()]


def to_us(t: datetime) -> int:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{t.isoformat()} has no time zone: give an aware datetime")
    return (t - EPOCH) // MICROSECOND


def from_us(us: int) -> datetime:
    return EPOCH + us * MICROSECOND


def wall_to_us(zone: ZoneInfo, wall: datetime, *, end: bool) -> int:
    """The instant of a naive wall time in `zone` (see the module's note on DST)."""
    first = to_us(wall.replace(tzinfo=zone, fold=0))
    second = to_us(wall.replace(tzinfo=zone, fold=1))
    if first == second:
        return first
    if first < second:  # repeated: fold 0 is the first occurrence
        return second if end else first
    return _jump(zone, second, first)  # skipped: fold 1 lands before the jump, fold 0 after


def _jump(zone: ZoneInfo, before: int, after: int) -> int:
    """The first instant in (before, after] with the offset in force at `after`."""
    target = from_us(after).astimezone(zone).utcoffset()
    lo, hi = before // 1_000_000, -(-after // 1_000_000)  # whole seconds: tz data has no less
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if from_us(mid * 1_000_000).astimezone(zone).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return hi * 1_000_000


def year_start(zone: ZoneInfo, year: int) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR + 1:
        raise OutOfRange(f"business time is counted in the years {FIRST_YEAR} to {LAST_YEAR}")
    return wall_to_us(zone, datetime(year, 1, 1), end=False)


def day_intervals(schedule: Schedule, day: date, closed: frozenset[date]) -> list[list[int]]:
    midnight = datetime.combine(day, time())
    out = []
    for r in schedule.ranges_on(day, closed):
        start = wall_to_us(schedule.zone, midnight + timedelta(minutes=r.start), end=False)
        end = wall_to_us(schedule.zone, midnight + timedelta(minutes=r.end), end=True)
        if end > start:  # a range inside a skipped hour is not open at all
            out.append([start, end])
    return out


@dataclass(frozen=True)
class YearBlock:
    year: int
    start: int  # 1 January 00:00 local
    end: int  # the next year's start
    starts: list[int]
    ends: list[int]
    before: list[int]  # open time in the block before interval i
    through: list[int]  # ... up to the end of interval i
    total: int

    def open_before(self, t: int) -> int:
        """Open time from the block's start to t (t inside the block)."""
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return 0
        return self.before[i] + min(t, self.ends[i]) - self.starts[i]

    def is_open(self, t: int) -> bool:
        i = bisect_right(self.starts, t) - 1
        return i >= 0 and t < self.ends[i]


def build_year(schedule: Schedule, year: int) -> YearBlock:
    lo, hi = year_start(schedule.zone, year), year_start(schedule.zone, year + 1)
    # The last day of the year before: its range through midnight may run into this one.
    closed = schedule.closed(year) | schedule.closed(year - 1)
    day, last = date(year - 1, 12, 31), date(year, 12, 31)
    found: list[list[int]] = []
    while day <= last:
        found.extend(day_intervals(schedule, day, closed))
        day += timedelta(days=1)
    merged = _clip(_merge(found), lo, hi)
    starts = [s for s, _ in merged]
    ends = [e for _, e in merged]
    before, through, total = [], [], 0
    for s, e in merged:
        before.append(total)
        total += e - s
        through.append(total)
    return YearBlock(year, lo, hi, starts, ends, before, through, total)


def _merge(intervals: list[list[int]]) -> list[list[int]]:
    """Sorted, overlapping or touching intervals joined: an override's range through
    midnight may overlap the next day's, and open time is never counted twice."""
    out: list[list[int]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def _clip(intervals: list[list[int]], lo: int, hi: int) -> list[list[int]]:
    return [[max(s, lo), min(e, hi)] for s, e in intervals if e > lo and s < hi]
