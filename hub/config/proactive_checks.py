"""check-config's problems with the greetings' and campaigns' approved templates: each
channel named must be sent by a connector that takes templates, with known parameters."""

from __future__ import annotations

from collections.abc import Sequence

from hub.config.campaigns import CampaignConfig
from hub.config.greetings import GreetingsConfig
from hub.config.templates import (
    CAMPAIGN_PARAMS,
    GREETING_PARAMS,
    Issue,
    TemplateSection,
    cross_checks,
)
from hub.connector import ConnectorConfig, ConnectorRegistry, ConnectorType


def proactive_cross_checks(
    greetings: GreetingsConfig,
    campaigns: Sequence[CampaignConfig],
    connectors: Sequence[ConnectorConfig],
    registry: ConnectorRegistry,
) -> list[Issue]:
    """check-config's problems with the greetings' and campaigns' approved templates."""
    sender_type: dict[str, ConnectorType] = {}
    for cfg in connectors:
        ctype = registry.get(cfg.type)
        for kind in ctype.sends_to if ctype else ():
            sender_type.setdefault(kind, ctype)
    g = greetings
    issues = cross_checks(
        TemplateSection(
            ("greetings", "approved_templates"),
            g.approved_templates,
            g.channel_order,
            GREETING_PARAMS,
        ),
        sender_type,
    )
    for i, c in enumerate(campaigns):
        issues += cross_checks(
            TemplateSection(
                ("campaigns", i, "approved_templates"),
                c.approved_templates,
                c.channel_order,
                CAMPAIGN_PARAMS,
                tuple(c.params),
            ),
            sender_type,
        )
    return issues
