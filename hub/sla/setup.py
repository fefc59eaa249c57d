"""The SLA rules of a config: its `sla:` section with the calendars it names."""

from __future__ import annotations

from hub.config.loader import Config
from hub.sla.calendars import build_calendars
from hub.sla.policy import SlaRules


def sla_rules(config: Config) -> SlaRules:
    return SlaRules(config.sla, build_calendars(config.calendars))
