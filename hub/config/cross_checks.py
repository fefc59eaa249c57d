"""check-config's cross-references between sections (teams named by rules and agents,
connectors named by notifications, alerts, templates and reply_via).

Each check names the sections it reads and runs whenever those are valid, so one run of
check-config reports the cross-reference errors beside the schema errors of other sections.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.config.agents import agents_cross_checks
from hub.config.alerts import alerts_cross_checks
from hub.config.assignment import assignment_cross_checks
from hub.config.calendars import calendars_cross_checks
from hub.config.notify import notify_cross_checks
from hub.config.proactive_checks import proactive_cross_checks
from hub.config.sla import sla_cross_checks
from hub.config.webhooks import webhooks_cross_checks
from hub.config.weekly_summary import weekly_cross_checks
from hub.config.yaml_source import Path_
from hub.connector import ConnectorRegistry

if TYPE_CHECKING:  # loader.py imports this module: the model is only named in hints here
    from hub.config.loader import Config

Found = list[tuple[Path_, str]]


@dataclass(frozen=True)
class CrossCheck:
    reads: frozenset[str]  # the top-level sections it needs valid
    run: Callable[[Config, ConnectorRegistry], Found]


def cross_check(config: Config, registry: ConnectorRegistry, broken: set[str]) -> Found:
    """The problems found by every check whose sections are all valid (none in `broken`)."""
    return [
        found
        for check in CROSS_CHECKS
        if not check.reads & broken
        for found in check.run(config, registry)
    ]


def _team_ids(config: Config) -> set[str]:
    return {t.id for t in config.teams}


def _teams(config: Config, _registry: ConnectorRegistry) -> Found:
    team_ids = _team_ids(config)
    found: Found = []
    if len(team_ids) != len(config.teams):
        found.append((("teams",), "team ids must be unique"))
    if config.routing.fallback_team not in team_ids:
        found.append(
            (
                ("routing", "fallback_team"),
                f"no team {config.routing.fallback_team!r} (teams: {', '.join(sorted(team_ids))})",
            )
        )
    for i, rule in enumerate(config.routing.rules):
        if rule.set.team not in team_ids:
            found.append((("routing", "rules", i, "set", "team"), f"no team {rule.set.team!r}"))
    return found


def _locale(config: Config, _registry: ConnectorRegistry) -> Found:
    if config.hub.default_locale not in config.hub.locales:
        return [(("hub", "default_locale"), "must be one of hub.locales")]
    return []


def _reply_via(config: Config, registry: ConnectorRegistry) -> Found:
    found: Found = []
    by_id = {c.id: c for c in config.connectors}
    for i, c in enumerate(config.connectors):
        if c.reply_via is None:
            continue
        target = by_id.get(c.reply_via)
        ctype = registry.get(target.type) if target else None
        if target is None or ctype is None or not ctype.can_send or ctype.notifies:
            found.append(
                (
                    ("connectors", i, "reply_via"),
                    f"{c.reply_via!r} is not the id of a connector that can send",
                )
            )
    return found


def _channels(config: Config, registry: ConnectorRegistry) -> Found:
    """Channel names in routing rules, SLA policies and agents' skills that no connector
    type's messages carry: a misspelt one would never match, silently."""
    known = registry.channels()
    if not known:
        return []  # a registry whose types declare no channels (tests' own types)
    named: list[tuple[Path_, str]] = [
        (("routing", "rules", i, "match", "channel"), rule.match.channel)
        for i, rule in enumerate(config.routing.rules)
        if rule.match.channel is not None
    ]
    named += [
        (("sla", "policies", i, "match", "channel", j), channel)
        for i, policy in enumerate(config.sla.policies)
        for j, channel in enumerate(policy.match.channel)
    ]
    named += [
        (("agents", "accounts", i, "skills", "channels", j), channel)
        for i, account in enumerate(config.agents.accounts)
        for j, channel in enumerate(account.skills.channels or ())
    ]
    listed = ", ".join(sorted(known))
    return [(path, f"no channel {name!r} (channels: {listed})") for path, name in named
            if name not in known]  # fmt: skip


def _one_crm_per_type(config: Config, registry: ConnectorRegistry) -> Found:
    """A CRM's record ids are kept as identities of its type's kind (hub.crm): two
    connectors of one CRM type would take each other's ids for their own."""
    found: Found = []
    seen: set[str] = set()
    for i, c in enumerate(config.connectors):
        ctype = registry.get(c.type)
        if ctype is not None and ctype.crm is not None:
            if c.type in seen:
                found.append((("connectors", i, "type"), f"only one {c.type} connector may sync"))
            seen.add(c.type)
    return found


CROSS_CHECKS = (
    CrossCheck(frozenset({"teams", "routing"}), _teams),
    CrossCheck(
        frozenset({"agents", "teams"}),
        lambda c, _r: agents_cross_checks(c.agents, _team_ids(c)),
    ),
    CrossCheck(
        frozenset({"routing", "connectors"}),
        lambda c, r: notify_cross_checks(c.routing.rules, c.connectors, r),
    ),
    CrossCheck(
        frozenset({"alerts", "connectors"}),
        lambda c, r: alerts_cross_checks(c.alerts, c.connectors, r),
    ),
    CrossCheck(
        frozenset({"greetings", "campaigns", "connectors"}),
        lambda c, r: proactive_cross_checks(c.greetings, c.campaigns, c.connectors, r),
    ),
    CrossCheck(
        frozenset({"teams", "calendars"}),
        lambda c, _r: assignment_cross_checks(c.teams, set(c.calendars)),
    ),
    CrossCheck(frozenset({"hub"}), _locale),
    CrossCheck(
        frozenset({"reports", "connectors", "teams", "hub"}),
        lambda c, r: weekly_cross_checks(
            c.reports.weekly, c.connectors, r, _team_ids(c), c.hub.locales
        ),
    ),
    CrossCheck(frozenset({"connectors"}), _reply_via),
    CrossCheck(frozenset({"connectors"}), _one_crm_per_type),
    CrossCheck(frozenset({"routing", "sla", "agents"}), _channels),
    CrossCheck(frozenset({"calendars"}), lambda c, _r: calendars_cross_checks(c.calendars)),
    CrossCheck(
        frozenset({"sla", "teams", "connectors", "calendars"}),
        lambda c, r: sla_cross_checks(c.sla, _team_ids(c), set(c.calendars), c.connectors, r),
    ),
    CrossCheck(frozenset({"webhooks"}), lambda c, _r: webhooks_cross_checks(c.webhooks)),
)
