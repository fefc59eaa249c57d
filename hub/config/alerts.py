"""The `alerts:` section: which notification connectors tell the operators that a
connector was disabled or stayed not ready, or that sends were dead-lettered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.config.notify import not_a_notifier
from hub.connector import ConnectorRegistry


class AlertsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Notification connectors (slack, teams) of the operators' channel; none: no alerts.
    notify: list[str] = Field(default_factory=list)
    # A connector not ready (retrying) this long is alerted; a disabled one at once.
    not_ready_seconds: float = Field(default=600.0, gt=0, le=86400)
    # How often connector states and pending alerts are looked at.
    sweep_seconds: float = Field(default=10.0, gt=0, le=300)
    # Dead-letter alerts wait until none joined for this long (a burst is one post) ...
    batch_window_seconds: float = Field(default=30.0, ge=0, le=3600)
    # ... or their first has waited this long.
    batch_max_wait_seconds: float = Field(default=300.0, ge=0, le=3600)
    # Lines in one post (the rest follow in the next).
    max_per_post: int = Field(default=25, ge=1, le=40)


def alerts_cross_checks(
    alerts: AlertsConfig, connectors: Sequence[Any], registry: ConnectorRegistry
) -> list[tuple[tuple[Any, ...], str]]:
    """Problems as (key path, message): `notify` naming anything but a notification
    connector, or one twice."""
    by_id = {c.id: c for c in connectors}
    issues: list[tuple[tuple[Any, ...], str]] = []
    for j, target in enumerate(alerts.notify):
        if (problem := not_a_notifier(target, by_id, registry)) is not None:
            issues.append((("alerts", "notify", j), problem))
        elif alerts.notify.index(target) != j:
            issues.append((("alerts", "notify", j), f"{target!r} is listed twice"))
    return issues
