"""The `notifications:` section of the operator's YAML, and the checks of rules' `notify`.

Routing rules name notification connectors (Slack, Teams) under `notify`; this section
says how their posts are batched and what counts as an escalation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.connector import ConnectorRegistry

EventKind = Literal["opened", "escalated"]
EVENT_KINDS: tuple[EventKind, ...] = ("opened", "escalated")
PRIORITY_ORDER = ("low", "normal", "high", "urgent")


class NotificationsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # How often pending notifications are gathered into posts.
    sweep_seconds: float = Field(default=2.0, gt=0, le=300)
    # A batch that is not full goes once no ticket joined it for this long (a full one
    # goes at once): a burst of tickets becomes a few posts instead of one post each ...
    batch_window_seconds: float = Field(default=5.0, ge=0, le=3600)
    # ... or once its first ticket has waited this long, however steady the trickle.
    batch_max_wait_seconds: float = Field(default=30.0, ge=0, le=3600)
    # Tickets in one post; within what Slack (50 blocks) and Teams (about 28 KB) accept.
    max_tickets_per_post: int = Field(default=25, ge=1, le=40)
    # An agent raising a ticket's priority to this or above escalates it ...
    escalate_priority: Literal["normal", "high", "urgent"] = "high"
    # ... and so does adding one of these tags to it.
    escalate_tags: list[str] = Field(default_factory=lambda: ["vip"])


def notify_cross_checks(
    rules: Sequence[Any], connectors: Sequence[Any], registry: ConnectorRegistry
) -> list[tuple[tuple[Any, ...], str]]:
    """Problems as (key path, message): `notify` naming anything but a notification
    connector."""
    by_id = {c.id: c for c in connectors}
    issues: list[tuple[tuple[Any, ...], str]] = []
    names = [r.name for r in rules]
    for i, rule in enumerate(rules):
        if rule.notify and names.count(rule.name) > 1:
            # Tickets remember their rule by name, to find who hears of escalations.
            issues.append(
                (("routing", "rules", i, "name"), "a rule that notifies needs a unique name")
            )
        for j, target in enumerate(rule.notify):
            if (problem := not_a_notifier(target, by_id, registry)) is not None:
                issues.append((("routing", "rules", i, "notify", j), problem))
    return issues


def not_a_notifier(
    target: str, by_id: Mapping[str, Any], registry: ConnectorRegistry
) -> str | None:
    """Why `target` cannot be told of tickets or troubles, or None when it is a
    notification connector's id."""
    found = by_id.get(target)
    ctype = registry.get(found.type) if found is not None else None
    if ctype is None or not ctype.notifies:
        return f"{target!r} is not the id of a notification connector (slack, teams)"
    return None
