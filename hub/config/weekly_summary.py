"""`reports.weekly`: the weekly summary emails. Each summary names its recipients, the email
connector that sends it, the weekday and local time it goes out (in its team's zone) and
its language; the hub sends each one once per week (hub.reports.weekly_send)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.connector import ConnectorRegistry
from hub.core.identity import normalize_email
from hub.core.zones import known_zone

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_send_at(value: str) -> tuple[int, time]:
    """'monday 08:00' as (weekday 0-6, local time); ValueError says what is wrong."""
    parts = value.strip().lower().split()
    if len(parts) != 2 or parts[0] not in WEEKDAYS:
        raise ValueError(f"must be a weekday and a time, e.g. 'monday 08:00' (got {value[:40]!r})")
    try:
        hour, minute = (int(p) for p in parts[1].split(":"))
        at = time(hour, minute)
    except ValueError:
        raise ValueError(f"the time must be HH:MM, 00:00-23:59 (got {parts[1][:10]!r})") from None
    return WEEKDAYS.index(parts[0]), at


class WeeklySummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Names the summary in the database: once sent for a week, never again that week,
    # even after the recipients change. Renaming it starts afresh.
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    to: list[str] = Field(min_length=1, max_length=50)
    # The email connector (smtp, mailfile) that sends it.
    via: str
    # Only this team's figures; unset: every team's.
    team: str | None = None
    # The weekday and local time it goes out; it covers the seven days before that day.
    send_at: str = "monday 08:00"
    # The team's IANA zone; unset: the reporting zone (reports.timezone, else hub.timezone).
    timezone: str | None = None
    language: str = "en"

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        out: list[str] = []
        for raw in v:
            address = normalize_email(raw)
            if address is None:
                raise ValueError(f"{raw[:80]!r} is not an email address")
            if address not in out:
                out.append(address)
        return out

    @field_validator("send_at")
    @classmethod
    def _when(cls, v: str) -> str:
        parse_send_at(v)
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        return None if v is None else known_zone(v)

    def schedule(self) -> tuple[int, time]:
        return parse_send_at(self.send_at)


class WeeklySummaryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # How often the hub looks for a summary that is due (a hub down at the hour sends
    # at its first look after it comes back, within the week).
    check_minutes: float = Field(default=10.0, ge=1, le=60)
    summaries: list[WeeklySummary] = Field(default_factory=list, max_length=100)


Issue = tuple[tuple[Any, ...], str]


def weekly_cross_checks(
    weekly: WeeklySummaryConfig,
    connectors: Sequence[Any],
    registry: ConnectorRegistry,
    teams: Collection[str],
    locales: Collection[str],
) -> list[Issue]:
    """Problems as (key path, message): `via` not an email connector that sends, an unknown
    team or language, a name used twice."""
    by_id = {c.id: c for c in connectors}
    issues: list[Issue] = []
    names: set[str] = set()
    for i, s in enumerate(weekly.summaries):
        at = ("reports", "weekly", "summaries", i)
        found = by_id.get(s.via)
        ctype = registry.get(found.type) if found is not None else None
        if ctype is None or not ctype.can_send or "email" not in ctype.sends_to:
            issues.append(((*at, "via"), f"{s.via!r} is not the id of an email connector"))
        if s.team is not None and s.team not in teams:
            issues.append(((*at, "team"), f"no team {s.team!r}"))
        if s.language not in locales:
            issues.append(((*at, "language"), f"{s.language!r} is not one of hub.locales"))
        if s.name in names:
            issues.append(((*at, "name"), f"summary name {s.name!r} is used twice"))
        names.add(s.name)
    return issues
