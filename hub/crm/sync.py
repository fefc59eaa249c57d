"""One CRM connector's sync: rounds of take-in and push, and rounds of pull.

Each round is one call the scheduler makes (hub.assembly adds them to Workers.jobs); a
round does what is due and leaves the rest in the store for the next. With several hub
processes on one database, a lease lets one of them sync each connector at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from hub.channels.directory import Channel
from hub.channels.storage import DbConnectorStorage
from hub.config.loader import HubSettings
from hub.connector import ConnectorStorage
from hub.crm.intake import take_in
from hub.crm.parts import SyncParts
from hub.crm.pull import PullReport, pull_round
from hub.crm.push import PushReport, push_batch
from hub.crm_seam import CrmContext, CrmSync
from hub.store import Store, utcnow

log = logging.getLogger("hub.crm")
# A round holds its lease this long at most; a crashed holder's lease runs out by then.
LEASE_SECONDS = 300.0


@dataclass
class CrmSyncer:
    parts: SyncParts
    lease: ConnectorStorage | None = None

    @property
    def connector_id(self) -> str:
        return self.parts.connector_id

    async def _hold(self, name: str) -> bool:
        return self.lease is None or await self.lease.acquire_lease(name, LEASE_SECONDS)

    async def _release(self, name: str) -> None:
        if self.lease is not None:
            await self.lease.release_lease(name)

    async def push_once(self) -> PushReport:
        """Take in new customer events, then push due customers until none is due or the
        CRM asks us to wait."""
        report = PushReport()
        if not await self._hold("crm-push"):
            return report
        try:
            parts = self.parts
            while await take_in(
                parts.store, parts.connector_id, parts.settings.erasure, parts.now()
            ):
                pass
            while await push_batch(parts, report):
                pass
        finally:
            await self._release("crm-push")
        return report

    async def pull_once(self) -> PullReport:
        """Apply the CRM's changes since the cursor. Customer events are taken in first, so
        hub_wins knows which fields have changes still to push."""
        if not await self._hold("crm-push"):
            return PullReport()
        try:
            parts = self.parts
            while await take_in(
                parts.store, parts.connector_id, parts.settings.erasure, parts.now()
            ):
                pass
            return await pull_round(parts)
        finally:
            await self._release("crm-push")

    async def close(self) -> None:
        await self.parts.client.close()


def crm_channels(channels: Mapping[str, Channel]) -> dict[str, Channel]:
    """The configured connectors that are CRMs (their type has a `crm` factory)."""
    return {cid: ch for cid, ch in channels.items() if ch.type.crm is not None}


def build_syncers(
    channels: Mapping[str, Channel],
    store: Store,
    hub: HubSettings,
    instance_id: str,
    now: Callable[[], datetime] = utcnow,
) -> dict[str, CrmSyncer]:
    """A syncer per CRM connector, each with its client (closed by CrmSyncer.close)."""
    out = {}
    for cid, channel in crm_channels(channels).items():
        settings = getattr(channel.config, "sync", None)
        factory = channel.type.crm
        if not isinstance(settings, CrmSync) or factory is None:
            raise TypeError(f"connector {cid}: a CRM connector's config needs `sync`")
        context = CrmContext(
            connector_id=cid,
            logger=logging.getLogger(f"connectors.{cid}"),
            monotonic=time.monotonic,
            sleep=asyncio.sleep,
        )
        parts = SyncParts(
            connector_id=cid,
            kind=channel.type.name,
            settings=settings,
            client=factory(channel.config, context),
            store=store,
            now=now,
            locales=tuple(hub.locales),
            timezone=hub.timezone,
            region=hub.phone_region,
        )
        out[cid] = CrmSyncer(parts, DbConnectorStorage(store, cid, instance_id))
    return out
