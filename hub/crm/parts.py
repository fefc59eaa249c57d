"""What one CRM sync works with: its connector's settings, its client, the store, a clock."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.core.periodic import backoff_delay
from hub.crm_seam import CrmConnector, CrmSync
from hub.store import Store

# A customer's tags went from change[0] to change[1] (sorted) by a pull, in its transaction:
# what the layers above set off (hub.actions.customer_edit.tag_effects: the open tickets'
# SLA policies).
TagsChanged = Callable[[AsyncConnection, int, tuple[list[str], list[str]]], Awaitable[None]]


@dataclass(frozen=True)
class SyncEffects:
    """What a sync sets off beyond the customer records."""

    # Where a refused credential is alerted (`alerts.notify`).
    alert_targets: tuple[str, ...] = ()
    tags_changed: TagsChanged | None = None


NO_EFFECTS = SyncEffects()


@dataclass
class SyncParts:
    connector_id: str
    # The identity kind the record ids are kept under (the connector type: hubspot, ...).
    kind: str
    settings: CrmSync
    client: CrmConnector
    store: Store
    now: Callable[[], datetime]
    # The hub's settings customers made from CRM records get.
    locales: tuple[str, ...] = ("en",)
    timezone: str = "UTC"
    region: str = "US"
    rng: random.Random = field(default_factory=random.Random)
    effects: SyncEffects = NO_EFFECTS

    @property
    def source(self) -> str:
        """How this sync's own changes are labelled (field edits, events)."""
        return f"crm:{self.connector_id}"

    def retry_at(self, attempts: int) -> datetime:
        cap = self.settings.max_backoff_seconds
        delay = backoff_delay(attempts + 1, min(5.0, cap), cap, self.rng)
        return self.now() + timedelta(seconds=delay)
