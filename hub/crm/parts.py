"""What one CRM sync works with: its connector's settings, its client, the store, a clock."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub.core.periodic import backoff_delay
from hub.crm_seam import CrmConnector, CrmSync
from hub.store import Store


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
    # Where a refused credential is alerted (`alerts.notify`).
    alert_targets: tuple[str, ...] = ()
    rng: random.Random = field(default_factory=random.Random)

    @property
    def source(self) -> str:
        """How this sync's own changes are labelled (field edits, events)."""
        return f"crm:{self.connector_id}"

    def retry_at(self, attempts: int) -> datetime:
        cap = self.settings.max_backoff_seconds
        delay = backoff_delay(attempts + 1, min(5.0, cap), cap, self.rng)
        return self.now() + timedelta(seconds=delay)
