"""The assigner the hub runs, built from the config."""

from __future__ import annotations

from collections.abc import Mapping

from hub.assignment.assigner import Assigner, agent_terms, team_rules
from hub.config.loader import Config
from hub.sla.calendar import Calendar
from hub.sla.calendars import build_calendars
from hub.store import Store


def config_calendars(config: Config) -> Mapping[str, Calendar]:
    """The business-hours calendars teams name (the config check makes sure they exist)."""
    named = {t.calendar for t in config.teams if t.calendar is not None}
    return build_calendars({n: c for n, c in config.calendars.items() if n in named})


def build_assigner(store: Store, config: Config) -> Assigner:
    return Assigner(
        store,
        team_rules(config.teams, config_calendars(config)),
        agent_terms(config.agents),
    )
