"""The rows one outbox worker holds: claimed in batches under a lease (FOR UPDATE SKIP
LOCKED on PostgreSQL, the single writer on SQLite), renewed while a slow batch is sent,
released when a row cannot be sent now."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update

from hub.config.loader import OutboxConfig
from hub.store import Store, utcnow
from hub.store.schema import outbox


class Lease:
    def __init__(self, store: Store, config: OutboxConfig, worker_id: str) -> None:
        self.store = store
        self.config = config
        self.worker_id = worker_id
        # The lease of the batch being sent, and its rows another worker took over since.
        self._until = utcnow()
        self._lost: set[int] = set()

    async def release_stale(self) -> None:
        # SQLite means one hub process: a lease held by anyone else is from a dead run.
        async with self.store.write() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.status == "pending", outbox.c.claimed_by != self.worker_id)
                .values(lease_until=None, claimed_by=None)
            )

    async def claim(self, connector_ids: list[str]) -> list[Any]:
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
        self._until = lease
        self._lost = set()
        return sorted(rows, key=lambda r: (r.next_attempt_at, r.id))

    async def still_ours(self, row: Any, batch_rest: list[Any]) -> bool:
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
        if self._until - now >= timedelta(seconds=self.config.lease_seconds / 2):
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
        self._until = lease
        return row.id in kept

    @contextlib.asynccontextmanager
    async def held(self, row: Any) -> AsyncIterator[None]:
        """Keep `row`'s lease while it is being sent: a send slower than what is left of the
        lease (a slow relay, a loaded machine) must not let another worker claim it too."""
        if self.store.single_process:
            yield
            return
        keeper = asyncio.create_task(self._keep(row.id), name=f"outbox-lease:{row.id}")
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _keep(self, row_id: int) -> None:
        every = self.config.lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            lease = utcnow() + timedelta(seconds=self.config.lease_seconds)
            async with self.store.write() as conn:
                await conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.id == row_id,
                        outbox.c.status == "pending",
                        outbox.c.claimed_by == self.worker_id,
                    )
                    .values(lease_until=lease)
                )

    async def release_all(self, row_ids: list[int]) -> None:
        """Hand rows back unsent (a stop): another process takes them without waiting
        for their lease to run out."""
        async with self.store.write() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(row_ids), outbox.c.claimed_by == self.worker_id)
                .values(lease_until=None, claimed_by=None)
            )

    async def release(self, row_id: int, error: str | None = None, delay: float = 0) -> None:
        values: dict[str, Any] = {"lease_until": None, "claimed_by": None}
        if error:
            values["last_error"] = error
        if delay:
            values["next_attempt_at"] = utcnow() + timedelta(seconds=delay)
        async with self.store.write() as conn:
            await conn.execute(update(outbox).where(outbox.c.id == row_id).values(**values))
