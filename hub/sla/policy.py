"""Which SLA policy a ticket is under and what it promises: pure, from the `sla:` config
and the calendars by name.

Policies are tried in order; the first whose every condition holds applies. A ticket no
policy matches, or whose priority a policy gives no targets, has no clocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.config.sla import TARGET_KINDS, Policy, PolicyMatch, SlaConfig, TeamSla
from hub.sla.calendar import CALENDAR_TIME, Calendar


@dataclass(frozen=True)
class TicketFacts:
    """What policies match on."""

    channel: str
    connector_id: str
    team: str
    priority: str
    tags: frozenset[str]
    customer_tags: frozenset[str]


@dataclass(frozen=True)
class Target:
    kind: str  # first_response | next_response | resolution
    duration: timedelta
    calendar: Calendar


@dataclass(frozen=True)
class Applied:
    """A policy as it applies to one ticket: its targets for the ticket's priority."""

    policy: str
    targets: Mapping[str, Target]


@dataclass(frozen=True)
class Notifying:
    """Who hears of a ticket's warnings and breaches, and when."""

    connectors: tuple[str, ...]
    # Notices falling outside `calendar`'s open hours wait for its next opening.
    business_hours_only: bool
    calendar: Calendar

    def when(self, at: datetime) -> datetime:
        return self.calendar.next_open(at) if self.business_hours_only else at


def matches(match: PolicyMatch, facts: TicketFacts) -> bool:
    if match.channel and not {facts.channel, facts.connector_id} & set(match.channel):
        return False
    if match.team and facts.team not in match.team:
        return False
    if match.priority and facts.priority not in match.priority:
        return False
    if match.tags and not facts.tags & set(match.tags):
        return False
    return not (match.customer_tags and not facts.customer_tags & set(match.customer_tags))


_NO_TEAM_SLA = TeamSla()


class SlaRules:
    """The `sla:` section with its calendars: what applies to a ticket, who is told."""

    def __init__(self, config: SlaConfig, calendars: Mapping[str, Calendar]) -> None:
        self.config = config
        self.calendars = dict(calendars)
        self._policies = {p.name: p for p in config.policies}
        self.pause_statuses = frozenset(config.pause_statuses)
        self.warn_before = config.warn_before
        self._notifying: dict[tuple[str, str], Notifying] = {}
        self._applied_by: dict[tuple[str, str], Applied | None] = {}

    @classmethod
    def none(cls) -> SlaRules:
        """No policies: no ticket has a clock."""
        return cls(SlaConfig(), {})

    @property
    def enabled(self) -> bool:
        return bool(self._policies)

    def calendar(self, name: str | None) -> Calendar:
        if name is None or name == CALENDAR_TIME.name:
            return CALENDAR_TIME
        # The config's cross checks refuse unknown names; a calendar removed since a
        # target was written counts around the clock rather than failing the check.
        return self.calendars.get(name, CALENDAR_TIME)

    def apply(self, facts: TicketFacts) -> Applied | None:
        for policy in self.config.policies:
            if matches(policy.match, facts):
                return self._applied(policy, facts.priority)
        return None

    def applied_policy(self, name: str, priority: str) -> Applied | None:
        """The named policy's targets for a priority (None: the policy is gone)."""
        key = (name, priority)
        if key not in self._applied_by:
            policy = self._policies.get(name)
            self._applied_by[key] = self._applied(policy, priority) if policy else None
        return self._applied_by[key]

    def _applied(self, policy: Policy, priority: str) -> Applied | None:
        targets = policy.targets.get(priority)  # type: ignore[call-overload]
        if targets is None:
            return None
        calendar = self.calendar(policy.business)
        found = {
            kind: Target(kind, duration, calendar)
            for kind in TARGET_KINDS
            if (duration := getattr(targets, kind)) is not None
        }
        return Applied(policy.name, found) if found else None

    def notifying(self, policy: str, team: str) -> Notifying:
        # Asked once per clock written: a recompute asks it for every running clock.
        found = self._notifying.get((policy, team))
        if found is None:
            found = self._notifying[policy, team] = self._notifying_of(policy, team)
        return found

    def _notifying_of(self, policy: str, team: str) -> Notifying:
        team_sla = self.config.teams.get(team, _NO_TEAM_SLA)
        found = self._policies.get(policy)
        connectors = list(team_sla.notify)
        only = team_sla.notify_business_hours_only
        calendar_name = team_sla.calendar
        if found is not None:
            connectors += [c for c in found.notify if c not in connectors]
            if found.notify_business_hours_only is not None:
                only = found.notify_business_hours_only
            calendar_name = calendar_name or found.business
        return Notifying(tuple(connectors), only, self.calendar(calendar_name))

    @property
    def connectors(self) -> list[str]:
        """Every notification connector some warning or breach may go to."""
        found = {c for t in self.config.teams.values() for c in t.notify}
        found |= {c for p in self.config.policies for c in p.notify}
        return sorted(found)
