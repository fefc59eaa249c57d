"""The assigner the hub runs, built from the config."""

from __future__ import annotations

from collections.abc import Mapping

from hub.assignment.assigner import Assigner, agent_terms, team_rules
from hub.config.loader import Config
from hub.sla.calendar import Calendar
from hub.store import Store


def config_calendars(config: Config) -> Mapping[str, Calendar]:
    """The named business-hours calendars teams may refer to.

    They come from the `calendars:` section (hub.sla.calendars, #14's calendars); until
    that section is there, the config check refuses a team's `calendar:`, so none is needed.
    """
    return {}


def build_assigner(store: Store, config: Config) -> Assigner:
    return Assigner(
        store,
        team_rules(config.teams, config_calendars(config)),
        agent_terms(config.agents),
    )
