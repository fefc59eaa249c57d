"""What became of a batch of attempts, recorded in one transaction: the log rows, each
delivery delivered or retried with backoff (a 429's Retry-After honoured) or given up,
each endpoint's failures in a row, and an endpoint disabled (410 Gone, or too many
failures in a row) with an operator alert in the same transaction."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.core.periodic import backoff_delay
from hub.notify.alerts import open_incident
from hub.outbox.dead_letters import WEBHOOK_DISABLED
from hub.store import Store
from hub.store.schema import webhook_attempts, webhook_deliveries, webhook_endpoints
from hub.webhooks.deliveries import DELIVERED, FAILED, PENDING, Claimed
from hub.webhooks.endpoints import ACTIVE, DISABLED, Endpoint

log = logging.getLogger("hub.webhooks")
wd = webhook_deliveries.c
ep = webhook_endpoints.c


@dataclass(frozen=True)
class RetryPolicy:
    base_delay_seconds: float = 5.0
    max_delay_seconds: float = 3600.0
    # A Retry-After further out than this is capped (a receiver cannot park us for a week).
    max_retry_after_seconds: float = 3600.0


@dataclass(frozen=True)
class Attempt:
    delivery: Claimed
    endpoint: Endpoint
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None
    # Nothing was sent and nothing will be: the event is gone (erased).
    moot: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


@dataclass
class Recorder:
    store: Store
    policy: RetryPolicy
    rng: random.Random
    # Where a disabled endpoint is alerted (`alerts.notify`).
    alert_targets: Sequence[str] = ()

    async def record(self, attempts: Sequence[Attempt], now: datetime) -> list[str]:
        """Record a batch; the ids of endpoints it disabled."""
        if not attempts:
            return []
        disabled: list[str] = []
        logged = [
            {
                "delivery_id": a.delivery.id,
                "attempted_at": a.at,
                "status_code": a.status_code,
                "error": (a.error or None) and a.error[:300],
                "duration_ms": a.duration_ms,
            }
            for a in attempts
            if not a.moot
        ]
        async with self.store.write() as conn:
            if logged:
                await conn.execute(webhook_attempts.insert(), logged)
            # One statement for the batch (an UPDATE per row was most of a round's time).
            await conn.execute(_AFTER, [self._after(a) for a in attempts])
            for endpoint_id, batch in _by_endpoint(attempts).items():
                if await self._count(conn, endpoint_id, batch, now):
                    disabled.append(endpoint_id)
        return disabled

    def _after(self, a: Attempt) -> dict[str, Any]:
        """The parameters of _AFTER for one attempt."""
        attempts = a.delivery.attempts + 1
        values: dict[str, Any] = {
            "b_id": a.delivery.id,
            "b_attempts": attempts,
            "b_last_status": a.status_code,
            "b_last_error": (a.error or None) and a.error[:300],
            "b_status": PENDING,
            "b_delivered_at": None,
            "b_next_attempt_at": a.at,
        }
        if a.ok:
            values.update(b_status=DELIVERED, b_delivered_at=a.at)
        elif a.moot or (attempts >= a.endpoint.max_attempts and not a.gone):
            values["b_status"] = FAILED
            log.warning(
                "webhook given up delivery=%s endpoint=%s attempts=%s last=%s",
                a.delivery.id,
                a.endpoint.id,
                attempts,
                a.status_code or a.error,
            )
        else:
            values["b_next_attempt_at"] = a.at + timedelta(seconds=self._delay(a, attempts))
        return values

    def _delay(self, a: Attempt, attempts: int) -> float:
        p = self.policy
        if a.status_code == 429 and a.retry_after is not None:
            return min(max(a.retry_after, 0.0), p.max_retry_after_seconds)
        return backoff_delay(attempts, p.base_delay_seconds, p.max_delay_seconds, self.rng)

    async def _count(
        self, conn: AsyncConnection, endpoint_id: str, batch: list[Attempt], now: datetime
    ) -> bool:
        """Failures in a row on the endpoint; True if this disabled it."""
        real = [a for a in batch if not a.moot]
        if not real:
            return False
        endpoint = real[0].endpoint
        last_ok = max((i for i, a in enumerate(real) if a.ok), default=None)
        failures = len(real) - (last_ok + 1 if last_ok is not None else 0)
        base = 0 if last_ok is not None else ep.consecutive_failures
        row = (
            await conn.execute(
                update(webhook_endpoints)
                .where(ep.id == endpoint_id)
                .values(consecutive_failures=base + failures)
                .returning(ep.consecutive_failures, ep.status)
            )
        ).first()
        if row is None or row.status != ACTIVE:
            return False
        gone = next((a for a in real if a.gone), None)
        if gone is not None:
            reason = f"410 Gone from {endpoint.url}"
        elif row.consecutive_failures >= endpoint.max_failures:
            last = real[-1]
            reason = (
                f"{row.consecutive_failures} failed attempts in a row "
                f"(last: {last.status_code or last.error})"
            )
        else:
            return False
        await conn.execute(
            update(webhook_endpoints)
            .where(ep.id == endpoint_id, ep.status == ACTIVE)
            .values(status=DISABLED, disabled_reason=reason[:300], disabled_at=now, updated_at=now)
        )
        await open_incident(
            self.store, conn, self.alert_targets, (WEBHOOK_DISABLED, endpoint_id), reason, now
        )
        log.error("webhook endpoint disabled endpoint=%s reason=%s", endpoint_id, reason)
        return True


_AFTER = (
    update(webhook_deliveries)
    .where(wd.id == bindparam("b_id"))
    .values(
        attempts=bindparam("b_attempts"),
        last_status=bindparam("b_last_status"),
        last_error=bindparam("b_last_error"),
        status=bindparam("b_status"),
        delivered_at=bindparam("b_delivered_at", type_=wd.delivered_at.type),
        next_attempt_at=bindparam("b_next_attempt_at", type_=wd.next_attempt_at.type),
        lease_until=None,
        claimed_by=None,
    )
)


def _by_endpoint(attempts: Sequence[Attempt]) -> dict[str, list[Attempt]]:
    out: dict[str, list[Attempt]] = {}
    for a in attempts:
        out.setdefault(a.endpoint.id, []).append(a)
    return out
