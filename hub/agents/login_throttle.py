"""Lock-out after repeated failed log-ins, per account and per client address.

Counted in the database, so every hub process on it enforces the same allowance: with the
counts in each process's memory, N processes behind a load balancer gave an attacker N
times the tries. A failure is read and written under a row lock (PostgreSQL) or the one
writer (SQLite), so two processes failing at once both count. Rows nobody failed on for a
window and a lock's length are deleted as failures come in: a flood of made-up usernames
or addresses costs rows only for as long as they could matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store import Store
from hub.store.schema import login_failures

# Stale rows deleted per failure: far more than the two a failure can add.
PURGE_ROWS = 1000


def account_key(username: str) -> str:
    return f"account:{username}"


def address_key(address: str) -> str:
    return f"address:{address}"


class LoginThrottle:
    """`max_failures` within `window_seconds` lock a key for `lock_seconds`."""

    def __init__(
        self,
        store: Store,
        *,
        limits: dict[str, int],
        window_seconds: float,
        lock_seconds: float,
    ) -> None:
        """`limits`: the allowance per key kind ("account", "address")."""
        self.store = store
        self.limits = dict(limits)
        self.window = timedelta(seconds=window_seconds)
        self.lock = timedelta(seconds=lock_seconds)

    async def locked(self, keys: Sequence[str], now: datetime) -> bool:
        """Whether any of `keys` is locked out at `now`."""
        async with self.store.read() as conn:
            row = (
                await conn.execute(
                    select(login_failures.c.key)
                    .where(login_failures.c.key.in_(list(keys)))
                    .where(login_failures.c.locked_until > now)
                    .limit(1)
                )
            ).first()
        return row is not None

    async def failure(self, keys: Sequence[str], now: datetime) -> None:
        """Count a failed log-in against each key; a key reaching its allowance locks."""
        async with self.store.write() as conn:
            for key in keys:
                await self._count(conn, key, now)
            # Rows another process holds are skipped, not waited for: two processes each
            # purging what the other is counting would deadlock.
            stale = (
                select(login_failures.c.key)
                .where(login_failures.c.updated_at < now - self.window - self.lock)
                .limit(PURGE_ROWS)
                .with_for_update(skip_locked=True)
            )
            await conn.execute(
                delete(login_failures).where(login_failures.c.key.in_(stale.scalar_subquery()))
            )

    async def success(self, key: str) -> None:
        """A good log-in clears the key's count (an account's; the address keeps its own)."""
        async with self.store.write() as conn:
            await conn.execute(delete(login_failures).where(login_failures.c.key == key))

    async def _count(self, conn: AsyncConnection, key: str, now: datetime) -> None:
        limit = self.limits[key.split(":", 1)[0]]
        await conn.execute(
            self.store.insert(login_failures)
            .values(key=key, failures=[], locked_until=None, updated_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = (
            await conn.execute(
                select(login_failures.c.failures, login_failures.c.locked_until)
                .where(login_failures.c.key == key)
                .with_for_update()
            )
        ).one()
        since = (now - self.window).timestamp()
        failures = [float(t) for t in row.failures if float(t) > since][-limit:]
        failures.append(now.timestamp())
        locked_until = row.locked_until
        if len(failures) >= limit:
            locked_until, failures = now + self.lock, []
        await conn.execute(
            update(login_failures)
            .where(login_failures.c.key == key)
            .values(failures=failures, locked_until=locked_until, updated_at=now)
        )
