"""Routing rules: ordered, first match wins, else the fallback team. Pure logic."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.config.loader import RoutingConfig

# Rules look at this much of a body: enough for any real rule, bounded for any regex.
BODY_SCAN_CHARS = 20_000


@dataclass(frozen=True)
class RouteInput:
    channel: str
    connector_id: str
    subject: str
    body: str
    customer_tags: frozenset[str]
    locale: str


@dataclass(frozen=True)
class RouteDecision:
    team: str
    priority: str
    tags: tuple[str, ...]
    rule: str | None  # the rule that matched, None for the fallback


@dataclass(frozen=True)
class _CompiledRule:
    name: str
    channel: str | None
    connector: str | None
    subject: re.Pattern[str] | None
    body: re.Pattern[str] | None
    tags: frozenset[str]
    locale: str | None
    team: str
    priority: str | None
    set_tags: tuple[str, ...]

    def matches(self, inp: RouteInput) -> bool:
        return (
            (self.channel is None or self.channel == inp.channel)
            and (self.connector is None or self.connector == inp.connector_id)
            and (self.locale is None or self.locale == inp.locale)
            and self.tags <= inp.customer_tags
            and (self.subject is None or self.subject.search(inp.subject) is not None)
            and (self.body is None or self.body.search(inp.body[:BODY_SCAN_CHARS]) is not None)
        )


class Router:
    def __init__(self, config: RoutingConfig) -> None:
        self._fallback = config.fallback_team
        self._rules = [
            _CompiledRule(
                name=r.name,
                channel=r.match.channel,
                connector=r.match.connector,
                subject=re.compile(r.match.subject) if r.match.subject else None,
                body=re.compile(r.match.body) if r.match.body else None,
                tags=frozenset(r.match.tags),
                locale=r.match.locale,
                team=r.set.team,
                priority=r.set.priority,
                set_tags=tuple(r.set.tags),
            )
            for r in config.rules
        ]

    def route(self, inp: RouteInput) -> RouteDecision:
        for rule in self._rules:
            if rule.matches(inp):
                return RouteDecision(rule.team, rule.priority or "normal", rule.set_tags, rule.name)
        return RouteDecision(self._fallback, "normal", (), None)
