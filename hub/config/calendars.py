"""The `calendars:` section: business hours, holidays and date overrides, by name.

```yaml
calendars:
  dhaka-office:
    timezone: Asia/Dhaka
    hours:
      sun-wed: ["09:00-13:00", "14:00-18:00"]
      thu: ["09:00-16:00"]
    holidays: {country: BD, dates: [2027-02-21], ical: closures.ics}
    overrides:
      2027-03-20: ["10:00-14:00"]   # [] closes the day
```

Times are the calendar's wall-clock times. A range belongs to the day it starts on: on
`fri: ["22:00-02:00"]` the office is open from Friday 22:00 to Saturday 02:00, and a holiday
or override on Friday takes the whole range, one on Saturday none of it. hub.sla.calendars
turns these models into the calendars SLA clocks count on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from hub.config.ical_holidays import IcalError, read_closed_days
from hub.config.yaml_source import Path_
from hub.core.zones import known_zone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
DAY = 24 * 60
CALENDAR_NAME = r"^[a-z0-9][a-z0-9_-]{0,39}$"
# The name SLA targets counted around the clock go by (hub.sla.calendar.CALENDAR_TIME).
RESERVED_NAME = "calendar-time"
# The key the loader puts the config file's folder under in pydantic's validation context:
# an iCalendar path is relative to the file that names it.
CONFIG_DIR = "config_dir"

_TIME = r"([01]?\d|2[0-4]):([0-5]\d)"
_RANGE = re.compile(rf"{_TIME}\s*-\s*{_TIME}")


@dataclass(frozen=True, order=True)
class TimeRange:
    """Open from `start` to `end`, in minutes after the day's midnight (wall time); an end
    past 1440 runs into the next day."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end % DAY if self.end > DAY else self.end)}"

    def overlaps(self, other: TimeRange) -> bool:
        return self.start < other.end and other.start < self.end

    def shifted(self, minutes: int) -> TimeRange:
        return TimeRange(self.start + minutes, self.end + minutes)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_time_range(text: object) -> TimeRange:
    """`09:00-13:00`; `22:00-02:00` runs through midnight; `24:00` only as an end."""
    match = _RANGE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"a time range is 'HH:MM-HH:MM' (e.g. '09:00-17:00'), not {text!r}")
    sh, sm, eh, em = (int(g) for g in match.groups())
    start, end = sh * 60 + sm, eh * 60 + em
    if start >= DAY:
        raise ValueError(f"{text!r}: a range cannot start at 24:00 (start at 00:00)")
    if end > DAY:
        raise ValueError(f"{text!r}: 24:00 is the latest time of a day")
    if end == start:
        raise ValueError(f"{text!r} is empty (for the whole day write '00:00-24:00')")
    if end < start:
        end += DAY  # through midnight: ends on the next day
    return TimeRange(start, end)


def parse_day_key(key: str) -> tuple[int, ...]:
    """`mon` -> (0,); `mon-fri` -> (0..4); `sun-wed` wraps past the week's end."""
    parts = key.strip().lower().split("-")
    if len(parts) > 2 or any(p not in WEEKDAYS for p in parts):
        raise ValueError(
            f"unknown day {key!r}: use mon, tue, wed, thu, fri, sat, sun or a range such as "
            "mon-fri or sun-wed"
        )
    first, last = WEEKDAYS.index(parts[0]), WEEKDAYS.index(parts[-1])
    return tuple((first + i) % 7 for i in range((last - first) % 7 + 1))


def _day_key(key: str) -> str:
    parse_day_key(key)
    return key


def _calendar_name(name: str) -> str:
    if not re.fullmatch(CALENDAR_NAME, name):
        raise ValueError(f"calendar names are lower-case letters, digits, - and _: {name!r}")
    if name == RESERVED_NAME:
        raise ValueError(f"{RESERVED_NAME!r} is reserved for targets counted around the clock")
    return name


Range = Annotated[
    TimeRange,
    PlainValidator(parse_time_range),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["09:00-17:00"]}),
]
DayKey = Annotated[str, AfterValidator(_day_key)]
CalendarName = Annotated[str, AfterValidator(_calendar_name)]


@dataclass(frozen=True)
class IcalFile:
    path: Path
    closed: frozenset[date]


def _read_ical(value: object, info: ValidationInfo) -> IcalFile:
    if isinstance(value, IcalFile):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("ical is the path of an iCalendar (.ics) file")
    base = (info.context or {}).get(CONFIG_DIR) or Path.cwd()
    path = Path(base) / value
    try:
        return IcalFile(path, read_closed_days(path))
    except IcalError as exc:
        raise ValueError(str(exc)) from None


IcalSource = Annotated[
    IcalFile,
    PlainValidator(_read_ical),
    PlainSerializer(lambda f: str(f.path), return_type=str),
    WithJsonSchema({"type": "string"}),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class HolidaysConfig(_Strict):
    # Public holidays of an ISO 3166 country from the `holidays` package, and of one of its
    # subdivisions (a state, province or region) when given.
    country: str | None = None
    subdiv: str | None = Field(default=None, validation_alias=AliasChoices("subdiv", "region"))
    dates: list[date] = Field(default_factory=list, max_length=10_000)
    ical: IcalSource | None = None

    @field_validator("country")
    @classmethod
    def _known_country(cls, v: str | None) -> str | None:
        if v is None:
            return v
        import holidays  # 70 ms to import: only for configs that name a country

        code = v.strip().upper()
        if code not in holidays.list_supported_countries():
            raise ValueError(
                f"no public holidays known for country {v!r} (an ISO 3166 code such as "
                "'BD', 'DE' or 'US')"
            )
        return code

    @field_validator("subdiv")
    @classmethod
    def _known_subdiv(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None or "country" not in info.data:
            return v  # none given, or the country itself is wrong: that is the error to read
        country = info.data["country"]
        if country is None:
            raise ValueError("a subdivision needs a country")
        import holidays

        known = holidays.list_supported_countries()[country]
        for code in known:
            if code.lower() == v.strip().lower():
                return str(code)
        shown = ", ".join(known[:40]) or "none"
        raise ValueError(f"{country} has no subdivision {v!r} (known: {shown})")

    def listed(self) -> frozenset[date]:
        """The dates named in the file: `dates` and the iCalendar file's closed days."""
        return frozenset(self.dates) | (self.ical.closed if self.ical else frozenset())


class CalendarConfig(_Strict):
    timezone: str
    hours: dict[DayKey, list[Range]] = Field(min_length=1)
    holidays: HolidaysConfig = Field(default_factory=HolidaysConfig)
    # Per date: these ranges instead of the week's (also on a holiday); [] closes the day.
    overrides: dict[date, list[Range]] = Field(default_factory=dict, max_length=10_000)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return known_zone(v)

    def weekly(self) -> tuple[tuple[TimeRange, ...], ...]:
        """The open ranges of each weekday, Monday first, in order of their start."""
        week: list[list[TimeRange]] = [[] for _ in WEEKDAYS]
        for key, ranges in self.hours.items():
            for day in parse_day_key(key):
                week[day].extend(ranges)
        return tuple(tuple(sorted(day)) for day in week)


Calendars = dict[CalendarName, CalendarConfig]


def calendars_cross_checks(calendars: Calendars) -> list[tuple[Path_, str]]:
    """Ranges that overlap: on one day (from one key or from two, `mon-fri` and `fri`), or a
    range through midnight running into the next day's first range."""
    found: list[tuple[Path_, str]] = []
    for name, cal in calendars.items():
        placed: list[list[tuple[TimeRange, Path_]]] = [[] for _ in WEEKDAYS]
        for key, ranges in cal.hours.items():
            for day in parse_day_key(key):
                for i, r in enumerate(ranges):
                    placed[day].append((r, ("calendars", name, "hours", key, i)))
        for day in range(7):
            after = [(r.shifted(DAY), where) for r, where in placed[(day + 1) % 7]]
            found.extend(_overlaps(placed[day], after, WEEKDAYS[day]))
        for on, ranges in cal.overrides.items():
            items = [
                (r, ("calendars", name, "overrides", on.isoformat(), i))
                for i, r in enumerate(ranges)
            ]
            found.extend(_overlaps(items, [], on.isoformat()))
    return _first_per_path(found)


def _overlaps(
    day: list[tuple[TimeRange, Path_]], next_day: list[tuple[TimeRange, Path_]], label: str
) -> list[tuple[Path_, str]]:
    found = []
    for i, (r, where) in enumerate(day):
        for other, other_where in day[i + 1 :]:
            if r.overlaps(other):
                found.append((where, f"{r} overlaps {other} on {label} ({_at(other_where)})"))
        for other, other_where in next_day:
            if r.overlaps(other):
                message = (
                    f"{r} runs past midnight into {other.shifted(-DAY)} of the next day "
                    f"({_at(other_where)})"
                )
                found.append((where, message))
    return found


def _at(path: Path_) -> str:
    return f"{path[-2]}[{path[-1]}]"


def _first_per_path(found: list[tuple[Path_, str]]) -> list[tuple[Path_, str]]:
    """One message per range: `mon-fri` overlapping `fri` is one mistake, not five."""
    seen: set[Path_] = set()
    out = []
    for where, message in found:
        if where not in seen:
            seen.add(where)
            out.append((where, message))
    return out
