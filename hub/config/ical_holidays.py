"""Closed days from an iCalendar file (`holidays: ical: closures.ics` in a calendar).

Each VEVENT closes whole days: an all-day event the dates from DTSTART up to its DTEND
(exclusive, as RFC 5545 has it; one day without DTEND), a timed event the dates it touches
as written in the file. A yearly (or any) RRULE is expanded up to EXPAND_UNTIL, EXDATEs
removed; EXPAND_LIMIT bounds what a file may expand to, so a daily rule without an end
cannot fill memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

EXPAND_UNTIL = date(2100, 12, 31)
EXPAND_LIMIT = 20_000
MAX_FILE_BYTES = 5_000_000
MAX_EVENT_DAYS = 366


class IcalError(ValueError):
    """The file cannot be read or is not iCalendar; the message names the file."""


def read_closed_days(path: Path) -> frozenset[date]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise IcalError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        raw = path.read_bytes()
    except OSError as exc:
        raise IcalError(f"cannot read {path}: {exc.strerror}") from None
    return parse_closed_days(raw, str(path))


def parse_closed_days(raw: bytes, where: str) -> frozenset[date]:
    import icalendar  # 80 ms to import: only for configs that name a file

    try:
        calendar = icalendar.Calendar.from_ical(raw)
    except ValueError as exc:
        raise IcalError(f"{where}: not an iCalendar file ({exc})") from None
    days: set[date] = set()
    for event in calendar.walk("VEVENT"):
        for first in _occurrences(event, where):
            days.update(_event_days(event, first, where))
            if len(days) > EXPAND_LIMIT:
                raise IcalError(f"{where}: expands to more than {EXPAND_LIMIT} closed days")
    return frozenset(days)


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _occurrences(event: Any, where: str) -> Iterator[date | datetime]:
    start_prop = event.get("DTSTART")
    if start_prop is None:
        raise IcalError(f"{where}: an event without DTSTART ({event.get('SUMMARY', '')!s})")
    start = start_prop.dt
    rule = event.get("RRULE")
    if rule is None:
        yield start
        return
    from dateutil.rrule import rrulestr

    excluded = {_as_date(d.dt) for ex in _list(event.get("EXDATE")) for d in ex.dts}
    anchor = start if isinstance(start, datetime) else datetime(start.year, start.month, start.day)
    try:
        expanded = rrulestr(rule.to_ical().decode(), dtstart=anchor)
    except (ValueError, TypeError) as exc:
        raise IcalError(f"{where}: a bad RRULE ({exc})") from None
    until = datetime.combine(EXPAND_UNTIL, datetime.min.time(), tzinfo=anchor.tzinfo)
    for n, when in enumerate(expanded.xafter(anchor, inc=True)):
        if when > until:
            return
        if n >= EXPAND_LIMIT:
            raise IcalError(f"{where}: an RRULE expands to more than {EXPAND_LIMIT} events")
        if _as_date(when) not in excluded:
            yield when if isinstance(start, datetime) else when.date()


def _event_days(event: Any, start: date | datetime, where: str) -> Iterator[date]:
    first = _as_date(start)
    length = _length(event)
    if isinstance(start, datetime):
        last = _as_date(start + length) if length else first
        # A timed event ending at midnight does not touch the day it ends on.
        if length and (start + length).time() == datetime.min.time() and last > first:
            last -= timedelta(days=1)
    else:
        last = first + max(timedelta(days=1), length) - timedelta(days=1)
    if (last - first).days >= MAX_EVENT_DAYS:
        raise IcalError(f"{where}: an event of more than {MAX_EVENT_DAYS} days ({first} to {last})")
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _length(event: Any) -> timedelta:
    start = event.get("DTSTART").dt
    end = event.get("DTEND")
    if end is not None:
        end_value = end.dt
        if isinstance(start, datetime) and isinstance(end_value, datetime):
            return max(end_value - start, timedelta())
        return max(_as_date(end_value) - _as_date(start), timedelta())
    duration = event.get("DURATION")
    if duration is not None and isinstance(duration.dt, timedelta):
        return max(duration.dt, timedelta())
    return timedelta()


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
