"""Time buckets in the viewer's IANA zone, DST-correct: a bucket is the local hour, day,
ISO week (from Monday) or month an instant falls in, keyed by the UTC instant it starts.
A day of a DST change is 23 or 25 hours long; an hour repeated when clocks go back is two
buckets, one skipped when they go forward none."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.events.counts import SLOT_SECONDS


def bucket_start(instant: datetime, unit: str, zone: ZoneInfo) -> datetime:
    """The UTC instant the bucket holding `instant` starts."""
    local = instant.astimezone(zone)
    if unit == "hour":
        # Keeps the fold: the second 01:00 of a night clocks go back is its own bucket.
        start = local.replace(minute=0, second=0, microsecond=0)
        return start.astimezone(UTC)
    day = local.date()
    if unit == "week":
        day -= timedelta(days=day.weekday())
    elif unit == "month":
        day = day.replace(day=1)
    return day_start(day, zone)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    naive = datetime(day.year, day.month, day.day)
    local = naive.replace(tzinfo=zone)
    # A midnight skipped by DST: the day starts at the first instant that exists.
    return local.astimezone(UTC).astimezone(zone).astimezone(UTC)


def slot_start(slot: int) -> datetime:
    return datetime.fromtimestamp(slot * SLOT_SECONDS, UTC)


def buckets_between(start: datetime, end: datetime, unit: str, zone: ZoneInfo) -> list[datetime]:
    """Every bucket from the one holding `start` up to `end` (exclusive), in order."""
    out: list[datetime] = []
    current = bucket_start(start, unit, zone)
    while current < end:
        out.append(current)
        current = _next(current, unit, zone)
    return out


def _next(start: datetime, unit: str, zone: ZoneInfo) -> datetime:
    if unit == "hour":
        return start + timedelta(hours=1)
    local = start.astimezone(zone).date()
    if unit == "day":
        return day_start(local + timedelta(days=1), zone)
    if unit == "week":
        return day_start(local + timedelta(days=7), zone)
    month = local.replace(day=1) + timedelta(days=32)
    return day_start(month.replace(day=1), zone)


def label(start: datetime, unit: str, zone: ZoneInfo) -> str:
    """How the bucket is shown: its local start (with the offset for hours)."""
    local = start.astimezone(zone)
    if unit == "hour":
        return local.isoformat(timespec="minutes")
    if unit == "month":
        return local.strftime("%Y-%m")
    return local.date().isoformat()
