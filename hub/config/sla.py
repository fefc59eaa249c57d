"""The `sla:` section: service-level policies, their targets per priority, and who hears of
warnings and breaches.

```yaml
sla:
  warn_before: 15m               # a warning this long before a deadline
  pause_statuses: [pending]      # resolution's clock stops while the ticket waits on them
  teams:
    support:
      notify: [support-slack]    # warnings and breaches go here (and to the assignee)
      calendar: dhaka-office     # the team's hours, for notify_business_hours_only
      notify_business_hours_only: true
  policies:                      # ordered: the first that matches a ticket applies
    - name: vip
      match: {customer_tags: [vip]}
      business: dhaka-office     # count its open hours; unset: around the clock
      targets:
        urgent: {first_response: 30m, next_response: 1h, resolution: 8h}
        normal: {first_response: 2h, resolution: 2d}
    - name: default              # no match: every ticket
      targets:
        normal: {first_response: 8h}
```

A priority without targets, or a kind left out, has no clock. Durations are those of
hub.config.durations (`2d` = 48 hours of the clock they count on).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.config.durations import Duration
from hub.config.notify import not_a_notifier
from hub.connector import ConnectorRegistry

TargetKind = Literal["first_response", "next_response", "resolution"]
TARGET_KINDS: tuple[TargetKind, ...] = ("first_response", "next_response", "resolution")

Found = list[tuple[tuple[Any, ...], str]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Targets(_Strict):
    first_response: Duration | None = None
    next_response: Duration | None = None
    resolution: Duration | None = None


class PolicyMatch(_Strict):
    """Every listed condition must hold; a list matches when the ticket has any of it."""

    channel: list[str] = Field(default_factory=list)
    team: list[str] = Field(default_factory=list)
    priority: list[Literal["low", "normal", "high", "urgent"]] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    customer_tags: list[str] = Field(default_factory=list)


class Policy(_Strict):
    name: str = Field(min_length=1, max_length=60)
    match: PolicyMatch = Field(default_factory=PolicyMatch)
    # A calendar of `calendars:`; unset, the targets count calendar time (around the clock).
    business: str | None = None
    targets: dict[Literal["low", "normal", "high", "urgent"], Targets] = Field(min_length=1)
    # Connectors told besides the team's.
    notify: list[str] = Field(default_factory=list)
    # Overrides the team's setting for tickets under this policy.
    notify_business_hours_only: bool | None = None


class TeamSla(_Strict):
    notify: list[str] = Field(default_factory=list)
    # The team's hours: with notify_business_hours_only, warnings and breaches that fall
    # outside them go out when the calendar next opens.
    calendar: str | None = None
    notify_business_hours_only: bool = False


class SlaConfig(_Strict):
    policies: list[Policy] = Field(default_factory=list)
    teams: dict[str, TeamSla] = Field(default_factory=dict)
    warn_before: Duration = timedelta(minutes=15)
    pause_statuses: list[Literal["new", "open", "pending"]] = Field(
        default_factory=lambda: ["pending"]
    )
    # How often the deadlines are checked; with the notification batching this keeps a
    # warning or breach within a minute of its time.
    check_seconds: float = Field(default=15.0, gt=0, le=60)

    @field_validator("policies")
    @classmethod
    def _unique_names(cls, v: list[Policy]) -> list[Policy]:
        names = [p.name for p in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"policy names must be unique (repeated: {', '.join(dupes)})")
        return v


def sla_cross_checks(
    sla: SlaConfig,
    team_ids: set[str],
    calendar_names: set[str],
    connectors: Sequence[Any],
    registry: ConnectorRegistry,
) -> Found:
    """Problems as (key path, message): unknown teams, calendars, notification connectors."""
    by_id: Mapping[str, Any] = {c.id: c for c in connectors}
    found: Found = []

    def calendar(path: tuple[Any, ...], name: str | None) -> None:
        if name is not None and name != "calendar-time" and name not in calendar_names:
            known = ", ".join(sorted(calendar_names)) or "none are configured"
            found.append((path, f"no calendar {name!r} (calendars: {known})"))

    def notifiers(path: tuple[Any, ...], targets: list[str]) -> None:
        for j, target in enumerate(targets):
            if (problem := not_a_notifier(target, by_id, registry)) is not None:
                found.append(((*path, j), problem))

    for i, policy in enumerate(sla.policies):
        calendar(("sla", "policies", i, "business"), policy.business)
        notifiers(("sla", "policies", i, "notify"), policy.notify)
        for team in policy.match.team:
            if team not in team_ids:
                found.append((("sla", "policies", i, "match", "team"), f"no team {team!r}"))
    for team_id, team in sla.teams.items():
        if team_id not in team_ids:
            found.append((("sla", "teams", team_id), f"no team {team_id!r}"))
        calendar(("sla", "teams", team_id, "calendar"), team.calendar)
        notifiers(("sla", "teams", team_id, "notify"), team.notify)
    return found
