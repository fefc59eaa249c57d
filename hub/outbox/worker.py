"""The durable send queue: claim due rows under a lease, send, record; retry, dead-letter.

Exactly-once is what the database can promise, and it promises it up to the connector
call: a row is claimed by one worker at a time (FOR UPDATE SKIP LOCKED on PostgreSQL, the
single writer on SQLite), and is marked sent in the transaction right after the send.
A stop (SIGTERM, a restart) lets the send under way finish and be marked, for up to
`drain_seconds`, and hands the rest of its batch back at once. The window that remains: a
process killed after the remote side accepted a message but before that mark commits will
send it again when the lease expires. The retry carries
the same idempotency key (for email: the same Message-ID), so the receiver can tell it
is the same message, never a second, different one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.loader import OutboxConfig
from hub.connector import (
    Connector,
    ConnectorAuthError,
    PermanentSendError,
    RecipientUnreachable,
    RetryLater,
)
from hub.core.metrics import Metrics
from hub.core.periodic import backoff_delay, cancelling
from hub.core.ratelimit import TokenBucket
from hub.customers.consent import OPT_IN, OPT_OUT, consent_status
from hub.messages import OutboundMessage
from hub.outbox.compose import outbound_message, template_message
from hub.outbox.lease import Lease
from hub.outbox.outcomes import Outcomes, nothing_on_sent
from hub.store import Store
from hub.store.schema import tickets

log = logging.getLogger("hub.outbox.worker")


def _always_ready(connector_id: str) -> bool:
    return True


def _ignore_auth_error(connector_id: str, exc: Exception) -> None:
    pass


async def _nothing_withdrawn(row: Any, reason: str) -> None:
    return None


@dataclass(frozen=True)
class WorkerHooks:
    """What the worker asks the hub about its connectors, and tells it."""

    is_ready: Callable[[str], bool] = _always_ready
    # A connector whose credentials were refused (its supervisor disables it).
    on_auth_error: Callable[[str, Exception], None] = _ignore_auth_error
    # Signs the thread marker of outgoing messages.
    secret: bytes = b""
    # Set by whoever queued rows (the pipeline, agents, sweeps): the worker looks now.
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    # Where dead-letters are alerted (`alerts.notify`), in the dead-lettering transaction.
    alert_targets: tuple[str, ...] = ()
    # Told of a row cancelled at send time (a survey's owner takes its count back).
    on_withdrawn: Callable[[Any, str], Awaitable[None]] = _nothing_withdrawn
    # In the transaction that marks a row sent (a scheduled reply answers the customer now).
    on_sent: Callable[[AsyncConnection, Any, datetime], Awaitable[None]] = nothing_on_sent


class OutboxWorker:
    def __init__(
        self,
        store: Store,
        config: OutboxConfig,
        connectors: dict[str, Connector],
        metrics: Metrics,
        hooks: WorkerHooks = WorkerHooks(),
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.connectors = connectors
        self.metrics = metrics
        self.hooks = hooks
        self.worker_id = uuid.uuid4().hex
        self.rng = rng or random.Random()
        self.limiters = {
            cid: TokenBucket(c.config.rate_limit_per_minute)
            for cid, c in connectors.items()
            if c.config.rate_limit_per_minute
        }
        self.lease = Lease(store, config, self.worker_id)
        self.outcomes = Outcomes(
            store, config, metrics, self.rng, hooks.alert_targets, on_sent=hooks.on_sent
        )
        self._wake = hooks.wakeup

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        # SQLite means one hub process: leases left by a dead run are released first, inside
        # the loop below, so a store that fails at start is retried like any other round.
        stale_leases = self.store.single_process
        failures = 0
        while True:
            try:
                if stale_leases:
                    await self.lease.release_stale()
                    stale_leases = False
                sent_any = await self.run_once()
            except Exception as exc:
                if cancelling():
                    # A cancellation a library turned into another exception: stop anyway.
                    raise asyncio.CancelledError from exc
                # Storage trouble (a failover, a full disk) must not stop the hub: what was
                # claimed keeps its lease and is sent once the store answers again.
                failures += 1
                self.metrics.errors.labels(where="outbox").inc()
                delay = backoff_delay(failures, self.config.poll_seconds, 30.0, self.rng)
                log.exception("outbox round failed; retry_in=%.1fs", delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            if cancelling():
                raise asyncio.CancelledError  # swallowed somewhere in the round
            if not sent_any:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation
                # that arrives as the event is set, and the hub could never shut down.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.config.poll_seconds):
                        await self._wake.wait()
                self._wake.clear()

    async def run_once(self) -> bool:
        """Claim and process one batch; True if there was anything to do."""
        ready = [cid for cid in self.connectors if self.hooks.is_ready(cid)]
        if not ready:
            return False
        rows = await self.lease.claim(ready)
        for i, row in enumerate(rows):
            await self._drained(self._deliver(row, rows[i:]), rows[i + 1 :])
        return bool(rows)

    async def _drained(self, delivery: Awaitable[None], unstarted: list[Any]) -> None:
        """Run one delivery so that a stop does not cut it between the remote side taking
        the message and its row being marked: cut there, the next run would send it again."""
        task = asyncio.ensure_future(delivery)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            try:
                await asyncio.wait({task}, timeout=self.config.drain_seconds)
                if not task.done():
                    log.warning("outbox stop cut a send short; it goes again after its lease")
                    task.cancel()
                    # A connector that finishes anyway (or fails) still gets its outcome.
                    await asyncio.wait({task}, timeout=1.0)
                if unstarted:
                    await asyncio.wait_for(
                        self.lease.release_all([r.id for r in unstarted]), timeout=5.0
                    )
            except Exception:
                log.exception("outbox drain on stop failed")
            finally:
                if not task.done():
                    task.cancel()
            raise

    async def _deliver(self, row: Any, batch_rest: list[Any]) -> None:
        connector = self.connectors.get(row.connector_id)
        if connector is None or not self.hooks.is_ready(row.connector_id):
            await self.lease.release(row.id)
            return
        await self._pace(row.connector_id)
        if not await self.lease.still_ours(row, batch_rest):
            # Our lease ran out while earlier messages of the batch were sent (or we waited
            # for the rate limit), and another worker has claimed this one since.
            log.warning("lease lost outbox=%s connector=%s", row.id, row.connector_id)
            return
        if (reason := await self._withdrawn(row)) is not None:
            await self.outcomes.cancel(row, reason)
            try:
                await self.hooks.on_withdrawn(row, reason)
            except Exception:
                log.exception("withdrawal hook failed outbox=%s", row.id)
            return
        try:
            template = template_message(row)
        except (KeyError, TypeError, ValueError) as exc:
            await self.outcomes.failed(
                row, PermanentSendError(f"unreadable template: {exc!r}"), permanent=True
            )
            return
        await self._send(connector, row, outbound_message(row, template, self.hooks.secret))

    async def _pace(self, connector_id: str) -> None:
        limiter = self.limiters.get(connector_id)
        if limiter is not None:
            wait = limiter.wait_time()
            if wait > 0:
                await asyncio.sleep(wait)
                limiter.wait_time()
            limiter.take()

    async def _send(self, connector: Connector, row: Any, msg: OutboundMessage) -> None:
        try:
            async with self.lease.held(row):
                remote_id = await connector.send(msg)
        except ConnectorAuthError as exc:
            # Credentials are wrong for every message: keep this one, don't burn attempts.
            log.error("send refused connector=%s error=auth", row.connector_id)
            await self.lease.release(row.id, error=f"auth: {exc}")
            self.hooks.on_auth_error(row.connector_id, exc)
            return
        except RecipientUnreachable as exc:
            # Blocked or gone: later messages to this address would fail the same way.
            await self.outcomes.mark_unreachable(exc.address)
            await self.outcomes.failed(row, exc, permanent=True)
            return
        except PermanentSendError as exc:
            await self.outcomes.failed(row, exc, permanent=True)
            return
        except RetryLater as exc:
            await self.outcomes.failed(row, exc, at_least=exc.seconds)
            return
        except Exception as exc:
            # Whatever went wrong (network, a not-ready channel, a bug in one connector),
            # this message waits for its next attempt and the worker goes on.
            await self.outcomes.failed(row, exc)
            return
        await self.outcomes.sent(row, remote_id)

    async def _withdrawn(self, row: Any) -> str | None:
        """Why a message queued earlier must not go now, if it must not: the consent it
        needs is missing, the customer opted out (a survey), or the ticket it is about was
        reopened (a survey of a solve that no longer stands)."""
        if row.consent_channel and not await self._has_consent(row):
            return f"no consent on {row.consent_channel} at send time"
        payload = row.payload or {}
        refusable = payload.get("unless_opted_out")
        if refusable and await self._opted_out(row, refusable):
            return f"opted out of {refusable} before send time"
        statuses = payload.get("while_ticket")
        if statuses and row.ticket_id is not None:
            async with self.store.read() as conn:
                now = (
                    await conn.execute(
                        select(tickets.c.status).where(tickets.c.id == row.ticket_id)
                    )
                ).scalar()
            if now not in statuses:
                return f"the ticket is {now} now"
        return None

    async def _has_consent(self, row: Any) -> bool:
        async with self.store.read() as conn:
            status = await consent_status(conn, row.customer_id, row.consent_channel)
        return status == OPT_IN

    async def _opted_out(self, row: Any, channel: str) -> bool:
        async with self.store.read() as conn:
            return await consent_status(conn, row.customer_id, channel) == OPT_OUT
