"""Whether a CRM value replaces the hub's: the conflict policy, decided on data alone.

A pull runs before each push, so what the pull keeps is what the push then writes back:
the policy decides both directions at this one point.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.crm_seam import ConflictPolicy
from hub.customers.field_edits import AGENT_SOURCES


@dataclass(frozen=True)
class FieldHistory:
    """What the hub knows of one field of one customer."""

    # Who set it last ("api", "inbox", "crm:<id>", ...) and when; None: never recorded (the value
    # came with the customer), and `edited_at` is when the customer was created.
    source: str | None
    edited_at: datetime
    # When the oldest hub change not yet pushed to this CRM was made; None: none pending.
    unpushed_since: datetime | None


@dataclass(frozen=True)
class Policy:
    conflict: ConflictPolicy
    overwrite_agent_edits: bool


def crm_value_wins(policy: Policy, field: FieldHistory, crm_modified_at: datetime) -> bool:
    """True: the CRM's (different) value replaces the hub's."""
    if field.source in AGENT_SOURCES and not policy.overwrite_agent_edits:
        return False
    if policy.conflict == "crm_wins":
        return True
    if policy.conflict == "hub_wins":
        # A conflict is a field the hub changed since it last pushed: the hub keeps it and
        # the push overwrites the CRM. A field the hub did not touch takes the CRM's value.
        return field.unpushed_since is None or field.edited_at < field.unpushed_since
    # most_recent: the later change stays, ties to the hub (its push follows).
    return crm_modified_at > field.edited_at
