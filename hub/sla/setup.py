"""The SLA rules of a config: its `sla:` section with the calendars it names."""

from __future__ import annotations

from collections.abc import Mapping

from hub.config.loader import Config
from hub.sla.calendar import Calendar
from hub.sla.policy import SlaRules


def configured_calendars(config: Config) -> Mapping[str, Calendar]:
    """The `calendars:` of the config, built (none before the calendars section exists)."""
    sections = getattr(config, "calendars", None)
    if not sections:
        return {}
    from hub.sla.calendars import build_calendars  # type: ignore[import-not-found,unused-ignore]

    return build_calendars(sections)  # type: ignore[no-any-return,unused-ignore]


def sla_rules(config: Config) -> SlaRules:
    return SlaRules(config.sla, configured_calendars(config))
