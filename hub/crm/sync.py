"""One CRM connector's sync: rounds of take-in and push, and rounds of pull.

Each round is one call the scheduler makes (hub.assembly.workers adds them to Workers.jobs); a
round does what is due and leaves the rest in the store for the next. With several hub
processes on one database, a lease lets one of them sync each connector at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from hub.channels.directory import Channel
from hub.channels.storage import DbConnectorStorage
from hub.config.loader import HubSettings
from hub.connector import ConnectorStorage
from hub.crm.intake import take_in
from hub.crm.parts import NO_EFFECTS, SyncEffects, SyncParts
from hub.crm.pull import PullReport, pull_round
from hub.crm.push import PushReport, push_batch
from hub.crm_seam import CrmAuthError, CrmContext, CrmSync, CrmUnavailable
from hub.notify.alerts import close_incident, incident_open, open_incident
from hub.outbox.dead_letters import CRM_AUTH
from hub.store import Store, utcnow

log = logging.getLogger("hub.crm")
# A round holds its lease this long at most; a crashed holder's lease runs out by then.
LEASE_SECONDS = 300.0
LEASE_NAME = "crm-sync"
# A push round stops starting batches after this long, well inside the lease.
ROUND_SECONDS = 120.0


@dataclass
class CrmSyncer:
    parts: SyncParts
    lease: ConnectorStorage | None = None
    # Push and pull take turns within this process too: a pull applied while a push of
    # the same customer is in flight would be overwritten by the older values it sends.
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def connector_id(self) -> str:
        return self.parts.connector_id

    @contextlib.asynccontextmanager
    async def _round(self) -> AsyncIterator[bool]:
        """One round at a time per connector, across the hub processes on the database
        (a lease) and within this one (a lock); False: another holds it."""
        async with self.turn:
            if self.lease is not None and not await self.lease.acquire_lease(
                LEASE_NAME, LEASE_SECONDS
            ):
                yield False
                return
            try:
                parts = self.parts
                # Customer events first: hub_wins must know which fields await a push.
                while await take_in(
                    parts.store, parts.connector_id, parts.settings.erasure, parts.now()
                ):
                    pass
                yield True
            finally:
                if self.lease is not None:
                    await self.lease.release_lease(LEASE_NAME)

    async def push_once(self) -> PushReport:
        """Push due customers until none is due, the CRM asks us to wait, or the round's
        time is up (the rest is due for the next round)."""
        report = PushReport()
        async with self._round() as mine:
            deadline = time.monotonic() + ROUND_SECONDS
            while mine and time.monotonic() < deadline and await push_batch(self.parts, report):
                pass
        if report.failure is not None:
            await self._trouble(report.failure)
        elif report.pushed or report.erased or report.refused:
            await self._answered()
        return report

    async def pull_once(self) -> PullReport:
        """Apply the CRM's changes since the cursor; an unavailable CRM is tried again at
        the next round (the cursor stays)."""
        async with self._round() as mine:
            if not mine:
                return PullReport()
            try:
                report = await pull_round(self.parts)
            except CrmUnavailable as exc:
                log.warning("crm pull failed connector=%s error=%s", self.connector_id, exc)
                await self._trouble(exc)
                return PullReport()
        await self._answered()
        return report

    async def _trouble(self, exc: CrmUnavailable) -> None:
        """Refused credentials need a person: the operators are told, once per incident.
        Anything else (an outage, a rate limit) the sync waits out by itself."""
        if not isinstance(exc, CrmAuthError):
            return
        log.error("crm refused the credentials connector=%s error=%s", self.connector_id, exc)
        parts = self.parts
        async with parts.store.write() as conn:
            await open_incident(
                parts.store,
                conn,
                parts.effects.alert_targets,
                (CRM_AUTH, self.connector_id),
                f"credentials refused: {exc}",
                parts.now(),
            )

    async def _answered(self) -> None:
        """The CRM took a call: a credentials incident, if one was open, is over. Looked
        for with a read: most rounds find none, and need not wait for the writer."""
        if not self.parts.effects.alert_targets:
            return
        incident, store = (CRM_AUTH, self.connector_id), self.parts.store
        async with store.read() as conn:
            if not await incident_open(conn, incident):
                return
        async with store.write() as conn:
            await close_incident(conn, incident, self.parts.now())

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
    effects: SyncEffects = NO_EFFECTS,
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
            effects=effects,
        )
        out[cid] = CrmSyncer(parts, DbConnectorStorage(store, cid, instance_id))
    return out
