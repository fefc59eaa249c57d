"""The weekly summary's content: the headline figures of the week beside the week before,
as text in the mail's language, and what its templates (`weekly_summary` under the
replies' templates_dir: subject, text and HTML) are given. Pure: figures in, text out.
The templates hold every word; this module only formats numbers, durations and changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal
from urllib.parse import urlencode

from babel.numbers import format_decimal
from babel.units import format_unit

from hub.reports.figures import Figures
from hub.reports.weekly_when import Week

TEMPLATE = "weekly_summary"
Kind = Literal["count", "duration", "pct"]
# The headline, in the order the mail shows it. Kinds: how a value and its change read.
HEADLINE: tuple[tuple[str, Kind], ...] = (
    ("created", "count"),
    ("solved", "count"),
    ("first_response", "duration"),
    ("resolution", "duration"),
    ("sla_achieved", "pct"),
    ("csat", "pct"),
    ("backlog", "count"),
)
# What an unknown value shows (no solves, no SLA clocks, no survey answers).
UNKNOWN = "–"


def headline_values(f: Figures) -> dict[str, float | None]:
    """The week's headline figures: medians for durations (seconds), tickets solved
    (a ticket solved twice counts once), percentages as 0-100."""
    return {
        "created": f.created,
        "solved": f.solved_tickets,
        "first_response": f.first_response.median,
        "resolution": f.resolution.median,
        "sla_achieved": f.sla_achieved_pct,
        "csat": f.csat_pct,
        # Unset when no ticket was opened before the week's end: none was open.
        "backlog": f.backlog if f.backlog is not None else 0,
    }


@dataclass(frozen=True)
class Line:
    """One headline figure as the mail shows it."""

    key: str
    kind: Kind
    now: str
    before: str
    change: str  # signed ('+3', '-15 min', '0'), or UNKNOWN


def lines(now: Figures, before: Figures, locale: str) -> list[Line]:
    a, b = headline_values(now), headline_values(before)
    return [
        Line(
            key,
            kind,
            format_value(kind, a[key], locale),
            format_value(kind, b[key], locale),
            format_change(kind, a[key], b[key], locale),
        )
        for key, kind in HEADLINE
    ]


def format_value(kind: Kind, value: float | None, locale: str) -> str:
    if value is None:
        return UNKNOWN
    if kind == "duration":
        return format_duration(value, locale)
    if kind == "pct":
        return format_decimal(round(value, 1), format="#,##0.0", locale=locale) + "%"
    return format_decimal(value, format="#,##0", locale=locale)


def format_change(kind: Kind, now: float | None, before: float | None, locale: str) -> str:
    if now is None or before is None:
        return UNKNOWN
    diff = now - before
    if kind == "pct":
        # Percentage points, unsigned unit left to the template.
        text = format_decimal(round(abs(diff), 1), format="#,##0.0", locale=locale)
    else:
        text = format_value(kind, abs(diff), locale)
    if round(diff, 1) == 0:
        return "0"
    return ("+" if diff > 0 else "-") + text


def format_duration(seconds: float, locale: str) -> str:
    """A duration in the locale's short units: seconds under a minute, then minutes, then
    hours and minutes ('1 hr 30 min'), from two days days and hours ('2 days 17 hr');
    halves rounded up."""
    s = _half_up(seconds)
    if s < 60:
        return _unit(s, "second", locale)
    minutes = _half_up(s / 60)
    if minutes < 60:
        return _unit(minutes, "minute", locale)
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return _join(_unit(hours, "hour", locale), rest and _unit(rest, "minute", locale))
    days, hours = divmod(_half_up(minutes / 60), 24)
    return _join(_unit(days, "day", locale), hours and _unit(hours, "hour", locale))


def _half_up(x: float) -> int:
    # round() rounds halves to even: 64.5 hours would read as 64.
    return int(x + 0.5)


def _unit(n: int, unit: str, locale: str) -> str:
    return str(format_unit(n, f"duration-{unit}", length="short", locale=locale))


def _join(*parts: str | int) -> str:
    return " ".join(p for p in parts if isinstance(p, str) and p)


def reports_link(public_url: str, week: Week, zone: str, team: str | None) -> str:
    """The Reports page on the same week: by day, by team (one team: by agent)."""
    query = {
        "from": week.start.isoformat(),
        "to": week.end.isoformat(),
        "tz": zone,
        "bucket": "day",
        "group": "agent" if team else "team",
    }
    if team:
        query["team"] = team
    return f"{public_url.rstrip('/')}/inbox/reports?{urlencode(query)}"


@dataclass(frozen=True)
class SummaryMail:
    """What one summary's templates are given."""

    name: str
    team: str | None  # the team's name; None: every team
    week: Week
    zone: str
    rows: list[Line]
    link: str

    def context(self) -> dict[str, Any]:
        start, end = self.week.previous()
        rows = [asdict(r) for r in self.rows]
        return {
            "summary": {"name": self.name, "team": self.team},
            "week": _days(self.week.start, self.week.end),
            "previous": _days(start, end),
            "rows": rows,
            "figures": {r["key"]: r for r in rows},
            "link": self.link,
            "timezone": self.zone,
        }


def _days(start: date, end: date) -> dict[str, date]:
    return {"start": start, "end": end}
