"""The configured calendars, built: `calendars:` in the YAML -> BusinessCalendar by name.

Holidays come from three sources, joined: the `holidays` package for a country (and its
subdivision), the listed `dates`, and an iCalendar file (read when the config loaded).
The package's holidays are asked for one year at a time, as a calendar builds that year.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from hub.config.calendars import CalendarConfig
from hub.sla.business_time import BusinessCalendar
from hub.sla.calendar import CALENDAR_TIME, Calendar
from hub.sla.open_hours import Schedule


class UnknownCalendar(KeyError):
    """A name no calendar in the config has; the message lists the ones it has."""

    def __init__(self, name: str, known: list[str]) -> None:
        shown = ", ".join(known) if known else "none are configured"
        super().__init__(f"no calendar {name!r} (calendars: {shown})")
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class _ClosedDays:
    """Closed days of one year: the country's public holidays and the listed dates."""

    country: str | None
    subdiv: str | None
    listed: frozenset[date]
    _years: dict[int, frozenset[date]] = field(default_factory=dict, compare=False)

    def __call__(self, year: int) -> frozenset[date]:
        days = self._years.get(year)
        if days is None:
            public = _public_holidays(self.country, self.subdiv, year) if self.country else ()
            days = frozenset(public) | {d for d in self.listed if d.year == year}
            self._years[year] = days
        return days


@lru_cache(maxsize=512)
def _public_holidays(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    import holidays  # 70 ms to import: only when a calendar has a country

    found: Any = holidays.country_holidays(country, subdiv=subdiv, years=year)
    return frozenset(found.keys())


def build_calendar(name: str, config: CalendarConfig) -> BusinessCalendar:
    closed = _ClosedDays(config.holidays.country, config.holidays.subdiv, config.holidays.listed())
    schedule = Schedule(
        zone=ZoneInfo(config.timezone),
        weekly=config.weekly(),
        overrides={on: tuple(sorted(ranges)) for on, ranges in config.overrides.items()},
        closed=closed,
    )
    return BusinessCalendar(name, schedule)


def build_calendars(configs: Mapping[str, CalendarConfig]) -> dict[str, BusinessCalendar]:
    return {name: build_calendar(name, c) for name, c in configs.items()}


def calendar_named(calendars: Mapping[str, Calendar], name: str | None) -> Calendar:
    """The calendar an SLA target names; None (or `calendar-time`) counts around the clock."""
    if name is None or name == CALENDAR_TIME.name:
        return CALENDAR_TIME
    found = calendars.get(name)
    if found is None:
        raise UnknownCalendar(name, sorted(calendars))
    return found
