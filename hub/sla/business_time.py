"""Business-time arithmetic on a calendar of opening hours: the `Calendar` an SLA target
counted in business time uses.

`add(start, d)` is the first instant with `d` of open time since `start`; `elapsed(a, b)` is
the open time between them. Both work on one function, the open time before an instant
(hub.sla.open_hours: a bisection in a cached year), so they are exact inverses to the
microsecond: `elapsed(s, add(s, d)) == d` for every s and d >= 0. `add(s, 0)` is `s`; a
deadline that lands on a closing time is that closing time, not the next opening.

How DST is counted (the calendar's wall-clock hours, turned into instants day by day): the
hour skipped in spring is not open time, the hour repeated in autumn is open twice; see
hub.sla.open_hours. Results are aware datetimes in UTC (`.astimezone(calendar.zone)` to
show them): two datetimes of one ZoneInfo subtract as wall times, which is wrong across a
DST change, while UTC ones always subtract as real time.

Fast enough for a sweep over 100,000 tickets: a year's intervals are built once (a few ms)
and kept in an LRU cache; add() skips whole years by their totals. A calendar with no open
time at all (every day closed, or only overrides long past) makes add() and next_open()
raise NoOpenTime after `search_years` empty years instead of looping.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from hub.sla.open_hours import (
    LAST_YEAR,
    MICROSECOND,
    OutOfRange,
    Schedule,
    YearBlock,
    build_year,
    from_us,
    to_us,
)

SEARCH_YEARS = 10
_CACHED_YEARS = 64


class NoOpenTime(ValueError):
    """The calendar has no open time within the years searched: add() cannot finish."""


class BusinessCalendar:
    """Opening hours, holidays and overrides of one zone (hub.sla.calendar.Calendar)."""

    def __init__(self, name: str, schedule: Schedule, search_years: int = SEARCH_YEARS) -> None:
        self.name = name
        self.zone: ZoneInfo = schedule.zone
        self._schedule = schedule
        self._search_years = search_years
        self._year = lru_cache(maxsize=_CACHED_YEARS)(self._build)
        self._last: YearBlock | None = None

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.name!r}, {self.zone.key})"

    def add(self, start: datetime, duration: timedelta) -> datetime:
        if duration < timedelta():
            raise ValueError(f"a duration to add cannot be negative ({duration})")
        at = to_us(start)
        need = duration // MICROSECOND
        if need == 0:
            return start.astimezone(UTC)
        block = self._block_of(at)
        need += block.open_before(at)
        empty = 0
        while need > block.total:
            need -= block.total
            empty = empty + 1 if block.total == 0 else 0
            if empty >= self._search_years:
                raise NoOpenTime(self._none_after(start))
            block = self._next(block)
        i = bisect_left(block.through, need)
        return from_us(block.starts[i] + need - block.before[i])

    def elapsed(self, a: datetime, b: datetime) -> timedelta:
        """Open time from a to b; negative when b is before a."""
        ua, ub = to_us(a), to_us(b)
        if ub < ua:
            return -self.elapsed(b, a)
        first, last = self._block_of(ua), self._block_of(ub)
        if first.year == last.year:
            return (last.open_before(ub) - first.open_before(ua)) * MICROSECOND
        total = first.total - first.open_before(ua) + last.open_before(ub)
        for year in range(first.year + 1, last.year):
            total += self._year(year).total
        return total * MICROSECOND

    def is_open(self, t: datetime) -> bool:
        at = to_us(t)
        return self._block_of(at).is_open(at)

    def next_open(self, t: datetime) -> datetime:
        at = to_us(t)
        block = self._block_of(at)
        if block.is_open(at):
            return t.astimezone(UTC)
        i = bisect_right(block.starts, at)
        for _ in range(self._search_years + 1):
            if i < len(block.starts):
                return from_us(block.starts[i])
            block, i = self._next(block), 0
        raise NoOpenTime(self._none_after(t))

    def open_intervals(self, a: datetime, b: datetime) -> list[tuple[datetime, datetime]]:
        """The open stretches between a and b, clipped to them, in order."""
        ua, ub = to_us(a), to_us(b)
        out: list[tuple[datetime, datetime]] = []
        block = self._block_of(ua)
        while block.start < ub:
            i = max(bisect_right(block.starts, ua) - 1, 0)
            for s, e in zip(block.starts[i:], block.ends[i:], strict=True):
                if s >= ub:
                    break
                if e > ua:
                    out.append((from_us(max(s, ua)), from_us(min(e, ub))))
            if block.end >= ub:
                break
            block = self._next(block)
        return out

    def _build(self, year: int) -> YearBlock:
        return build_year(self._schedule, year)

    def _block_of(self, at: int) -> YearBlock:
        last = self._last
        if last is not None and last.start <= at < last.end:
            return last  # a sweep's tickets mostly fall in one year
        year = from_us(at).astimezone(self.zone).year
        block = self._year(year)
        # A new year's midnight that is skipped or repeated moves the block's edge.
        if at < block.start:
            block = self._year(year - 1)
        elif at >= block.end:
            block = self._year(year + 1)
        self._last = block
        return block

    def _next(self, block: YearBlock) -> YearBlock:
        if block.year >= LAST_YEAR:
            raise OutOfRange(f"calendar {self.name!r}: no open time left before {LAST_YEAR + 1}")
        return self._year(block.year + 1)

    def _none_after(self, t: datetime) -> str:
        return (
            f"calendar {self.name!r} has no open time in the {self._search_years} years after "
            f"{t.isoformat()}: check its hours, holidays and overrides"
        )
