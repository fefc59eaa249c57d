"""Which birthday and anniversary greetings are due: on the customer's own local date and hour.

Pure: the clock (`now`, an aware datetime) and the customer's data come in, frozen
dataclasses go out. The sweep that queries the store, renders and writes outbox rows is
built on top of `sweep_window` and `due_greetings`.

Rules, in one place:

- An occasion is celebrated on its month and day in the customer's IANA time zone, from the
  first anniversary on (the origin year itself, e.g. the day of birth, is not greeted).
- 29 February in a common year is celebrated on 28 February (`feb29="feb28"`, the default)
  or on 1 March (`feb29="mar1"`).
- The greeting is sent at `send_hour` local time on that date. A wall time skipped by a
  clock change is sent at the first instant after the gap; a wall time that occurs twice
  is sent at its first occurrence.
- It is due from that instant for `catch_up` (half-open: `send_at <= now < expires_at`),
  so after downtime a sweep still sends it within the window and never a stale one later.
- `(customer, occasion, year)` names it once and for all: the year is the occasion's year,
  not the UTC year of the send, and neither the zone nor the date is part of the key, so a
  changed zone, date or rule can never produce a second greeting for the same year.
"""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from hub.config.greetings import Feb29Rule, GreetingRules

GreetingState = Literal["upcoming", "due", "missed"]

# Every zone in tzdata has kept its UTC offset within these bounds since Kiritimati moved to
# +14 at the end of 1994 (tests check all installed zones); sweep_window relies on them.
MIN_UTC_OFFSET = timedelta(hours=-12)
MAX_UTC_OFFSET = timedelta(hours=14)


class UnknownTimeZone(ValueError):
    """The customer's time zone is not an IANA name this machine's tzdata knows."""


@dataclass(frozen=True)
class Occasion:
    """A date worth greeting: `origin` is the day it commemorates (birth, wedding, first order)."""

    name: str
    origin: date
    # False when only month and day are known (a birthday given without a year): no age.
    year_known: bool = True


@dataclass(frozen=True)
class CustomerOccasions:
    customer_id: int
    timezone: str
    locale: str
    occasions: tuple[Occasion, ...]

    def __post_init__(self) -> None:
        load_zone(self.timezone)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return load_zone(self.timezone)


@dataclass(frozen=True, order=True)
class GreetingKey:
    """At most one greeting per customer, occasion and year; `token` fits a unique column."""

    customer_id: int
    occasion: str
    year: int

    @property
    def token(self) -> str:
        return f"greeting:{self.customer_id}:{self.occasion}:{self.year}"


@dataclass(frozen=True)
class Greeting:
    key: GreetingKey
    origin: date
    local_date: date  # the date it is celebrated on, in the customer's zone
    send_at: datetime  # UTC
    expires_at: datetime  # UTC, exclusive: send_at + catch_up
    # Age, or years as a customer; None when the origin's year is unknown.
    years: int | None
    timezone: str
    locale: str

    @property
    def send_local(self) -> datetime:
        return self.send_at.astimezone(load_zone(self.timezone))

    def state(self, now: datetime) -> GreetingState:
        now = _utc(now)
        if now < self.send_at:
            return "upcoming"
        return "due" if now < self.expires_at else "missed"

    def is_due(self, now: datetime) -> bool:
        return self.state(now) == "due"


@dataclass(frozen=True)
class SweepWindow:
    """What a sweep at `now` must look at; see `sweep_window`."""

    sends_after: datetime  # exclusive
    sends_until: datetime  # inclusive
    first_date: date
    last_date: date
    month_days: frozenset[tuple[int, int]]

    @property
    def local_dates(self) -> tuple[date, ...]:
        days = (self.last_date - self.first_date).days + 1
        return tuple(self.first_date + timedelta(days=i) for i in range(days))

    @property
    def month_day_numbers(self) -> tuple[int, ...]:
        """`month * 100 + day` of each entry in `month_days`, sorted, for an integer column."""
        return tuple(sorted(m * 100 + d for m, d in self.month_days))


# ZoneInfo's own cache keeps only 8 zones strongly; a sweep across hundreds of zones would
# re-read tzdata files for nearly every customer.
@functools.cache
def load_zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZone(f"unknown IANA time zone {name!r} (e.g. 'Asia/Dhaka')") from None


def celebration_date(origin: date, year: int, feb29: Feb29Rule = "feb28") -> date:
    """The date in `year` on which an occasion that fell on `origin` is celebrated."""
    if origin.month == 2 and origin.day == 29 and not _is_leap(year):
        return date(year, 2, 28) if feb29 == "feb28" else date(year, 3, 1)
    return origin.replace(year=year)


# A sweep asks for the same few (date, zone) pairs for thousands of customers, and the
# answer depends on tzdata alone: two zone conversions (a bisection in a gap) saved each.
@functools.lru_cache(maxsize=8192)
def send_instant(local_date: date, hour: int, tz: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant the clocks in `tz` first show `hour`:00 on `local_date`.

    If that wall time is skipped (spring forward, or a whole day skipped when a zone
    crossed the date line), it is the first instant after the gap; if it occurs twice
    (fall back), it is the first of the two.
    """
    wall = datetime.combine(local_date, time(hour))
    # fold=0 is the earlier of two instants showing the same wall time (PEP 495).
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == wall:
        return first
    # In a gap fold=0 and fold=1 resolve with the offsets from either side of the
    # transition, which bracket it; the transition is the first instant at or past `wall`.
    other = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo = int(min(first, other).timestamp())
    hi = int(max(first, other).timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), tz) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def greeting_in_year(
    customer: CustomerOccasions, occasion: Occasion, year: int, rules: GreetingRules
) -> Greeting | None:
    """The greeting for `occasion` in `year`, due or not; None if there is none that year."""
    if occasion.name not in rules.occasions or year <= occasion.origin.year:
        return None
    on = celebration_date(occasion.origin, year, rules.feb29)
    send_at = send_instant(on, rules.send_hour, customer.zone)
    return Greeting(
        key=GreetingKey(customer.customer_id, occasion.name, year),
        origin=occasion.origin,
        local_date=on,
        send_at=send_at,
        expires_at=send_at + rules.catch_up,
        years=year - occasion.origin.year if occasion.year_known else None,
        timezone=customer.timezone,
        locale=customer.locale,
    )


def greetings_in_year(
    customer: CustomerOccasions, year: int, rules: GreetingRules
) -> tuple[Greeting, ...]:
    """Every greeting the customer gets in `year` (occasion years), in send order."""
    found = (greeting_in_year(customer, o, year, rules) for o in customer.occasions)
    return tuple(sorted((g for g in found if g is not None), key=lambda g: (g.send_at, g.key)))


def due_greetings(
    now: datetime, customer: CustomerOccasions, rules: GreetingRules
) -> tuple[Greeting, ...]:
    """The customer's greetings due at `now`: sent at or before it, within the catch-up window.

    Near New Year a due greeting may belong to the year before the customer's (or UTC's)
    current one; its key carries the occasion's own year.
    """
    now = _utc(now)
    first, last = _celebration_dates(now, rules)
    zone = customer.zone
    due = []
    # Only dates sweep_window would look up can be due; checking them first skips the
    # zone arithmetic for all the others. Then the send instant alone decides (as
    # Greeting.state does), so a Greeting is built only for what is due: a sweep asks this
    # of tens of thousands of candidates and most are due at another hour.
    for year in range(first.year, last.year + 1):
        for occasion in customer.occasions:
            if occasion.name not in rules.occasions or year <= occasion.origin.year:
                continue
            on = celebration_date(occasion.origin, year, rules.feb29)
            if not first <= on <= last:
                continue
            send_at = send_instant(on, rules.send_hour, zone)
            if not send_at <= now < send_at + rules.catch_up:
                continue
            g = greeting_in_year(customer, occasion, year, rules)
            if g is not None and g.is_due(now):
                due.append(g)
    return tuple(sorted(due, key=lambda g: (g.send_at, g.key)))


def sweep_window(now: datetime, rules: GreetingRules) -> SweepWindow:
    """What a sweep at `now` has to look at, so the store can use an index, not a scan.

    A greeting is due when its send instant lies in `(now - catch_up, now]`
    (`sends_after`, `sends_until`). The send instant is `send_hour` on the celebration
    date D in the customer's zone, and every zone's UTC offset is within
    [MIN_UTC_OFFSET, MAX_UTC_OFFSET] (a skipped wall time moves the send to the end of its
    gap, which still lies within those offsets of it). So D is one of the dates in
    `[first_date, last_date]`, whatever the customer's zone: about two or three dates with
    the default 12-hour window.

    The store keeps each occasion's month and day in an indexed column (for instance
    `birthday_md = month * 100 + day`; `month_day_numbers` gives the values) and selects
    candidates with `birthday_md IN (...)`. `month_days` already maps the 29 February rule:
    in a common year it holds (2, 29) when 28 February (rule feb28) or 1 March (rule mar1)
    is in the window. The query excludes what is already recorded as sent for the
    occasion's year, and `due_greetings` then decides exactly, per candidate, since a
    candidate's own zone usually puts its send outside the window: a superset is fine, a
    missing candidate is not.
    """
    now = _utc(now)
    first_date, last_date = _celebration_dates(now, rules)
    month_days: set[tuple[int, int]] = set()
    day = first_date
    while day <= last_date:
        month_days.add((day.month, day.day))
        if not _is_leap(day.year) and (day.month, day.day) == _FEB29_STANDS_IN[rules.feb29]:
            month_days.add((2, 29))
        day += timedelta(days=1)
    return SweepWindow(now - rules.catch_up, now, first_date, last_date, frozenset(month_days))


# Asked once per candidate customer with the same `now` and rules throughout a sweep.
@functools.lru_cache(maxsize=64)
def _celebration_dates(now: datetime, rules: GreetingRules) -> tuple[date, date]:
    """First and last local date whose greeting can be due at `now`, in any zone."""
    hour = timedelta(hours=rules.send_hour)
    # send = D + hour - offset with offset in [MIN, MAX]; solved for D over the send window.
    first = (now - rules.catch_up + MIN_UTC_OFFSET - hour).date()
    last = (now + MAX_UTC_OFFSET - hour).date()
    return first, last


_FEB29_STANDS_IN: dict[str, tuple[int, int]] = {"feb28": (2, 28), "mar1": (3, 1)}


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _wall(instant: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (UTC), not a naive one")
    return now.astimezone(UTC)
