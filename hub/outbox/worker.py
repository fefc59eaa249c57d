"""The durable send queue: claim due rows under a lease, send, record; retry, dead-letter.

Exactly-once is what the database can promise, and it promises it up to the connector
call: a row is claimed by one worker at a time (FOR UPDATE SKIP LOCKED on PostgreSQL, the
single writer on SQLite), and is marked sent in the transaction right after the send.
The window that remains: a process killed after the remote side accepted a message but
before that mark commits will send it again when the lease expires. The retry carries
the same idempotency key (for email: the same Message-ID), so the receiver can tell it
is the same message, never a second, different one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.channels.message_events import attach_pending
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
from hub.customers.consent import OPT_IN, consent_status
from hub.messages import Address, Notice, OutboundMessage, TemplateMessage
from hub.outbox.dead_letters import record_dead_letter
from hub.store import Store, utcnow
from hub.store.schema import identities, outbox
from hub.tickets.records import ticket_ref
from hub.tickets.thread_match import make_marker

log = logging.getLogger("hub.outbox.worker")


class NoSuchEntry(LookupError):
    pass


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    connector_id: str
    kind: str
    recipient: str
    subject: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    remote_id: str | None
    created_at: datetime


class OutboxWorker:
    def __init__(
        self,
        store: Store,
        config: OutboxConfig,
        connectors: dict[str, Connector],
        metrics: Metrics,
        is_ready: Callable[[str], bool] = lambda _id: True,
        on_auth_error: Callable[[str, Exception], None] = lambda _id, _exc: None,
        rng: random.Random | None = None,
        secret: Callable[[], bytes] = lambda: b"",
        alert_targets: Sequence[str] = (),
    ) -> None:
        self.store = store
        self.config = config
        self.connectors = connectors
        self.metrics = metrics
        self.is_ready = is_ready
        self.on_auth_error = on_auth_error
        # Signs the thread marker of outgoing messages (loaded at start, so a function).
        self.secret = secret
        # Where dead-letters are alerted (`alerts.notify`), in the dead-lettering transaction.
        self.alert_targets = tuple(alert_targets)
        self.worker_id = uuid.uuid4().hex
        self.rng = rng or random.Random()
        self.limiters = {
            cid: TokenBucket(c.config.rate_limit_per_minute)
            for cid, c in connectors.items()
            if c.config.rate_limit_per_minute
        }
        self._wake = asyncio.Event()
        # The lease of the batch being sent, and its rows another worker took over since.
        self._lease_until = utcnow()
        self._lost: set[int] = set()

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
                    await self._release_stale_leases()
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
        ready = [cid for cid in self.connectors if self.is_ready(cid)]
        if not ready:
            return False
        rows = await self._claim(ready)
        for i, row in enumerate(rows):
            await self._deliver(row, rows[i:])
        return bool(rows)

    async def _release_stale_leases(self) -> None:
        # SQLite means one hub process: a lease held by anyone else is from a dead run.
        async with self.store.write() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.status == "pending", outbox.c.claimed_by != self.worker_id)
                .values(lease_until=None, claimed_by=None)
            )

    async def _claim(self, connector_ids: list[str]) -> list[Any]:
        now = utcnow()
        lease = now + timedelta(seconds=self.config.lease_seconds)
        async with self.store.write() as conn:
            due = (
                select(outbox.c.id)
                .where(
                    outbox.c.status == "pending",
                    outbox.c.connector_id.in_(connector_ids),
                    outbox.c.next_attempt_at <= now,
                    or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now),
                )
                .order_by(outbox.c.next_attempt_at, outbox.c.id)
                .limit(self.config.batch_size)
                .with_for_update(skip_locked=True)
            )
            ids = [r.id for r in await conn.execute(due)]
            if not ids:
                return []
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(lease_until=lease, claimed_by=self.worker_id)
            )
            rows = (await conn.execute(select(outbox).where(outbox.c.id.in_(ids)))).all()
        self._lease_until = lease
        self._lost = set()
        return sorted(rows, key=lambda r: (r.next_attempt_at, r.id))

    async def _deliver(self, row: Any, batch_rest: list[Any]) -> None:
        connector = self.connectors.get(row.connector_id)
        if connector is None or not self.is_ready(row.connector_id):
            await self._release(row.id)
            return
        limiter = self.limiters.get(row.connector_id)
        if limiter is not None:
            wait = limiter.wait_time()
            if wait > 0:
                await asyncio.sleep(wait)
                limiter.wait_time()
            limiter.take()
        if not await self._still_ours(row, batch_rest):
            # Our lease ran out while earlier messages of the batch were sent (or we waited
            # for the rate limit), and another worker has claimed this one since.
            log.warning("lease lost outbox=%s connector=%s", row.id, row.connector_id)
            return
        if row.consent_channel and not await self._has_consent(row):
            await self._cancel(row, f"no consent on {row.consent_channel} at send time")
            return
        try:
            template_message = _template_message(row)
        except (KeyError, TypeError, ValueError) as exc:
            await self._failed(
                row, PermanentSendError(f"unreadable template: {exc!r}"), permanent=True
            )
            return
        msg = OutboundMessage(
            connector_id=row.connector_id,
            to=Address(row.recipient_kind, row.recipient, row.recipient_name),
            text=row.body_text,
            idempotency_key=row.idempotency_key,
            subject=row.subject,
            html=row.body_html,
            ticket_ref=ticket_ref(row.ticket_id) if row.ticket_id is not None else None,
            auto_submitted=row.auto_submitted,
            in_reply_to=row.in_reply_to,
            references=tuple(row.references or ()),
            thread_marker=(
                make_marker(row.ticket_id, self.secret()) if row.ticket_id is not None else None
            ),
            list_unsubscribe=row.list_unsubscribe,
            notice=_notice(row),
            template=row.template,
            template_message=template_message,
        )
        try:
            remote_id = await connector.send(msg)
        except ConnectorAuthError as exc:
            # Credentials are wrong for every message: keep this one, don't burn attempts.
            log.error("send refused connector=%s error=auth", row.connector_id)
            await self._release(row.id, error=f"auth: {exc}")
            self.on_auth_error(row.connector_id, exc)
            return
        except RecipientUnreachable as exc:
            # Blocked or gone: later messages to this address would fail the same way.
            await self._mark_unreachable(exc.address)
            await self._failed(row, exc, permanent=True)
            return
        except PermanentSendError as exc:
            await self._failed(row, exc, permanent=True)
            return
        except RetryLater as exc:
            await self._failed(row, exc, at_least=exc.seconds)
            return
        except Exception as exc:
            # Whatever went wrong (network, a not-ready channel, a bug in one connector),
            # this message waits for its next attempt and the worker goes on.
            await self._failed(row, exc)
            return
        async with self.store.write() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == row.id)
                .values(
                    status="sent",
                    remote_id=str(remote_id)[:300],
                    sent_at=utcnow(),
                    attempts=row.attempts + 1,
                    lease_until=None,
                    last_error=None,
                )
            )
            if row.message_id is not None:
                await attach_pending(conn, row.connector_id, str(remote_id)[:300], row.message_id)
        self.metrics.sent.labels(connector=row.connector_id).inc()
        log.info("sent outbox=%s connector=%s kind=%s", row.id, row.connector_id, row.kind)

    async def _still_ours(self, row: Any, batch_rest: list[Any]) -> bool:
        """May this worker send `row` now? Every send starts with at least half a lease.

        On PostgreSQL other processes claim rows whose lease ran out, so once less than
        half of it is left (slow sends, rate-limit waits) the rest of the batch is renewed
        in one statement, but only the rows still ours. SQLite is one process: no renewal.
        """
        if self.store.single_process:
            return True
        if row.id in self._lost:
            return False
        now = utcnow()
        if self._lease_until - now >= timedelta(seconds=self.config.lease_seconds / 2):
            return True
        ids = [r.id for r in batch_rest if r.id not in self._lost]
        lease = now + timedelta(seconds=self.config.lease_seconds)
        async with self.store.write() as conn:
            kept = {
                r.id
                for r in await conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.id.in_(ids),
                        outbox.c.status == "pending",
                        outbox.c.claimed_by == self.worker_id,
                    )
                    .values(lease_until=lease)
                    .returning(outbox.c.id)
                )
            }
        self._lost.update(set(ids) - kept)
        self._lease_until = lease
        return row.id in kept

    async def _has_consent(self, row: Any) -> bool:
        async with self.store.read() as conn:
            status = await consent_status(conn, row.customer_id, row.consent_channel)
        return status == OPT_IN

    async def _cancel(self, row: Any, reason: str) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == row.id)
                .values(status="cancelled", last_error=reason, lease_until=None)
            )
        log.info("cancelled outbox=%s connector=%s reason=%s", row.id, row.connector_id, reason)

    async def _mark_unreachable(self, address: Address) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                update(identities)
                .where(identities.c.kind == address.kind, identities.c.value == address.value)
                .values(unreachable=True)
            )

    async def _failed(
        self, row: Any, exc: Exception, *, permanent: bool = False, at_least: float = 0.0
    ) -> None:
        attempts = row.attempts + 1
        error = f"{exc.__class__.__name__}: {exc}"[:2000]
        self.metrics.send_failures.labels(connector=row.connector_id).inc()
        values: dict[str, Any] = {"attempts": attempts, "last_error": error, "lease_until": None}
        if permanent or attempts >= self.config.max_attempts:
            values["status"] = "dead"
            self.metrics.dead_lettered.labels(connector=row.connector_id).inc()
            log.error(
                "dead-lettered outbox=%s connector=%s attempts=%s error=%s",
                row.id,
                row.connector_id,
                attempts,
                exc.__class__.__name__,
            )
        else:
            delay = max(
                at_least,
                backoff_delay(
                    attempts,
                    self.config.base_delay_seconds,
                    self.config.max_delay_seconds,
                    self.rng,
                ),
            )
            values["next_attempt_at"] = utcnow() + timedelta(seconds=delay)
            log.warning(
                "send failed outbox=%s connector=%s attempt=%s retry_in=%.1fs error=%s",
                row.id,
                row.connector_id,
                attempts,
                delay,
                exc.__class__.__name__,
            )
        async with self.store.write() as conn:
            await conn.execute(update(outbox).where(outbox.c.id == row.id).values(**values))
            if values.get("status") == "dead":
                await record_dead_letter(conn, self.alert_targets, row, error, utcnow())

    async def _release(self, row_id: int, error: str | None = None, delay: float = 0) -> None:
        values: dict[str, Any] = {"lease_until": None, "claimed_by": None}
        if error:
            values["last_error"] = error
        if delay:
            values["next_attempt_at"] = utcnow() + timedelta(seconds=delay)
        async with self.store.write() as conn:
            await conn.execute(update(outbox).where(outbox.c.id == row_id).values(**values))


def _notice(row: Any) -> Notice | None:
    """A notification's structure; one that cannot be read is sent as its plain text."""
    if not row.payload or "template" in row.payload:
        return None
    try:
        return Notice.from_json(row.payload)
    except (KeyError, TypeError, ValueError):
        log.warning("unreadable notification payload outbox=%s; sending text", row.id)
        return None


def _template_message(row: Any) -> TemplateMessage | None:
    """A proactive message's approved template; unreadable, the send fails for good rather
    than go as free text the channel would refuse."""
    if not row.payload or "template" not in row.payload:
        return None
    return TemplateMessage.from_json(row.payload["template"])


async def list_entries(store: Store, *, dead: bool = False, limit: int = 100) -> list[OutboxEntry]:
    query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if dead:
        query = query.where(outbox.c.status == "dead")
    async with store.read() as conn:
        rows = (await conn.execute(query)).all()
    return [
        OutboxEntry(
            r.id,
            r.connector_id,
            r.kind,
            r.recipient,
            r.subject,
            r.status,
            r.attempts,
            r.next_attempt_at,
            r.last_error,
            r.remote_id,
            r.created_at,
        )
        for r in rows
    ]


async def retry_entry(store: Store, entry_id: int) -> None:
    """Give a dead (or waiting) message a fresh set of attempts, due now.

    A lease is left alone: a message some worker is sending right now must not be
    claimed by a second one (a dead message holds no lease)."""
    async with store.write() as conn:
        result = await conn.execute(
            update(outbox)
            .where(outbox.c.id == entry_id, outbox.c.status.in_(("dead", "pending")))
            .values(status="pending", attempts=0, next_attempt_at=utcnow())
        )
        if result.rowcount == 0:
            raise NoSuchEntry(f"no dead or pending outbox entry {entry_id}")


async def depth(conn: AsyncConnection) -> tuple[dict[str, int], datetime | None]:
    counts = {
        status: n
        for status, n in await conn.execute(
            select(outbox.c.status, func.count()).group_by(outbox.c.status)
        )
    }
    oldest = (
        await conn.execute(
            select(func.min(outbox.c.created_at)).where(and_(outbox.c.status == "pending"))
        )
    ).scalar()
    return counts, oldest
