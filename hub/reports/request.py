"""What a report asks for: a range of days in the viewer's IANA time zone, an optional
grouping and time bucket, filters, the basis of durations; and who may see what."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.reports.buckets import day_start as local_midnight

GROUPS = ("team", "channel", "agent", "tag", "priority")
BUCKETS = ("hour", "day", "week", "month")
Basis = Literal["calendar", "business"]


class BadReport(ValueError):
    """The request cannot be answered as asked; the message says which part is wrong."""


@dataclass(frozen=True)
class ReportRequest:
    # Aware instants, end exclusive: local midnights of the first and the day after the last.
    start: datetime
    end: datetime
    zone: ZoneInfo
    group: str | None = None
    bucket: str | None = None
    basis: Basis = "calendar"
    # Equality filters on the event's dimensions (team, channel, agent, tag, priority).
    filters: Mapping[str, str] = field(default_factory=dict)
    # The teams the viewer may see (a team lead's); None: every team.
    teams: frozenset[str] | None = None
    # Medians, p90s and unique solved tickets: read from the events, not the rollup.
    percentiles: bool = True

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> ReportRequest:
        """The period of the same length just before, for comparison (no bucketing)."""
        days = (self.local_end_date() - self.local_start_date()).days
        first = self.local_start_date() - timedelta(days=days)
        return replace(
            self,
            start=local_midnight(first, self.zone),
            end=self.start,
            bucket=None,
            percentiles=False,
        )

    def local_start_date(self) -> date:
        return self.start.astimezone(self.zone).date()

    def local_end_date(self) -> date:
        return self.end.astimezone(self.zone).date()


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadReport(f"unknown IANA time zone {name!r} (e.g. 'Asia/Dhaka')") from None


def parse_day(value: str, what: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadReport(f"{what} must be a date as YYYY-MM-DD (got {value[:40]!r})") from None
    if not 1970 <= day.year <= 2999:
        raise BadReport(f"{what} must be between 1970 and 2999")
    return day


@dataclass(frozen=True)
class ReportForm:
    """A report's parameters as text (a query string, the command line)."""

    start: str
    end: str
    zone: str
    group: str | None = None
    bucket: str | None = None
    basis: str = "calendar"
    filters: Mapping[str, str] = field(default_factory=dict)


def build_request(form: ReportForm, teams: frozenset[str] | None, max_days: int) -> ReportRequest:
    """The request, checked: dates in order and at most `max_days` apart, a known group,
    bucket and basis, filters on known dimensions; a team lead asking for a team not
    theirs gets BadReport (the web answers 403 before asking)."""
    zone = parse_zone(form.zone)
    first, last = parse_day(form.start, "from"), parse_day(form.end, "to")
    if last < first:
        raise BadReport("'to' is before 'from'")
    if (last - first).days + 1 > max_days:
        raise BadReport(f"a report covers at most {max_days} days")
    if form.group is not None and form.group not in GROUPS:
        raise BadReport(f"group must be one of {', '.join(GROUPS)}")
    if form.bucket is not None and form.bucket not in BUCKETS:
        raise BadReport(f"bucket must be one of {', '.join(BUCKETS)}")
    if form.bucket == "hour" and (last - first).days + 1 > 31:
        raise BadReport("hourly buckets cover at most 31 days")
    if form.basis not in ("calendar", "business"):
        raise BadReport("basis must be calendar or business")
    for key, value in form.filters.items():
        if key not in GROUPS:
            raise BadReport(f"unknown filter {key!r} (known: {', '.join(GROUPS)})")
        if not value or len(value) > 100:
            raise BadReport(f"filter {key!r} needs a value of 1-100 characters")
    team = form.filters.get("team")
    if teams is not None and team is not None and team not in teams:
        raise BadReport(f"team {team!r} is not one of yours")
    return ReportRequest(
        start=local_midnight(first, zone),
        end=local_midnight(last + timedelta(days=1), zone),
        zone=zone,
        group=form.group,
        bucket=form.bucket,
        basis="business" if form.basis == "business" else "calendar",
        filters=dict(form.filters),
        teams=teams,
    )
