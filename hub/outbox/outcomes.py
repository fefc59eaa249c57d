"""What became of a send, recorded on its outbox row: sent, to be retried with backoff,
dead-lettered (and alerted in the same transaction), or cancelled."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.channels.message_events import attach_pending
from hub.config.loader import OutboxConfig
from hub.core.metrics import Metrics
from hub.core.periodic import backoff_delay
from hub.events.outgoing import MESSAGE_SENT, OutgoingEvent, emit
from hub.messages import Address
from hub.outbox.dead_letters import record_dead_letter
from hub.store import Store, utcnow
from hub.store.schema import identities, outbox

log = logging.getLogger("hub.outbox.worker")


async def nothing_on_sent(conn: AsyncConnection, row: Any, now: datetime) -> None:
    return None


@dataclass
class Outcomes:
    store: Store
    config: OutboxConfig
    metrics: Metrics
    rng: random.Random
    # Where dead-letters are alerted (`alerts.notify`), in the dead-lettering transaction.
    alert_targets: Sequence[str] = ()
    # Told of each row marked sent, in that transaction (hub.outbox.worker.WorkerHooks).
    on_sent: Callable[[AsyncConnection, Any, datetime], Awaitable[None]] = nothing_on_sent

    async def sent(self, row: Any, remote_id: object) -> None:
        now = utcnow()
        async with self.store.write() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == row.id)
                .values(
                    status="sent",
                    remote_id=str(remote_id)[:300],
                    sent_at=now,
                    attempts=row.attempts + 1,
                    lease_until=None,
                    last_error=None,
                )
            )
            if row.message_id is not None:
                await attach_pending(conn, row.connector_id, str(remote_id)[:300], row.message_id)
                # A conversation's message (not a team post): integrations hear it went out.
                await emit(conn, [_message_sent(row)], now)
            await self.on_sent(conn, row, now)
        self.metrics.sent.labels(connector=row.connector_id).inc()
        log.info("sent outbox=%s connector=%s kind=%s", row.id, row.connector_id, row.kind)

    async def cancel(self, row: Any, reason: str) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == row.id)
                .values(status="cancelled", last_error=reason, lease_until=None)
            )
        log.info("cancelled outbox=%s connector=%s reason=%s", row.id, row.connector_id, reason)

    async def mark_unreachable(self, address: Address) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                update(identities)
                .where(identities.c.kind == address.kind, identities.c.value == address.value)
                .values(unreachable=True)
            )

    async def failed(
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


def _message_sent(row: Any) -> OutgoingEvent:
    return OutgoingEvent(
        MESSAGE_SENT,
        {
            "message_id": row.message_id,
            "ticket_id": row.ticket_id,
            "customer_id": row.customer_id,
            "connector_id": row.connector_id,
            "kind": row.kind,
        },
        customer_id=row.customer_id,
        ticket_id=row.ticket_id,
    )
