"""The database side of ConnectorStorage: checkpoints, leases and quarantine per connector."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from hub.store import Store, utcnow
from hub.store.schema import connector_state, leases, quarantine

MAX_QUARANTINE_BYTES = 50 * 1024 * 1024


class DbConnectorStorage:
    def __init__(self, store: Store, connector_id: str, holder: str) -> None:
        self.store = store
        self.connector_id = connector_id
        self.holder = holder

    async def get(self, key: str) -> Any:
        async with self.store.read() as conn:
            return (
                await conn.execute(
                    select(connector_state.c.value).where(
                        connector_state.c.connector_id == self.connector_id,
                        connector_state.c.key == key,
                    )
                )
            ).scalar()

    async def put(self, key: str, value: Any) -> None:
        now = utcnow()
        stmt = self.store.insert(connector_state).values(
            connector_id=self.connector_id, key=key, value=value, updated_at=now
        )
        async with self.store.write() as conn:
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["connector_id", "key"],
                    set_={"value": stmt.excluded.value, "updated_at": now},
                )
            )

    async def acquire_lease(self, name: str, ttl_seconds: float) -> bool:
        now = utcnow()
        full = f"{self.connector_id}:{name}"
        stmt = self.store.insert(leases).values(
            name=full, holder=self.holder, expires_at=now + timedelta(seconds=ttl_seconds)
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
            # Only an expired lease, or our own, changes hands.
            where=(leases.c.holder == self.holder) | (leases.c.expires_at < now),
        )
        async with self.store.write() as conn:
            await conn.execute(stmt)
            holder = (
                await conn.execute(select(leases.c.holder).where(leases.c.name == full))
            ).scalar()
        return bool(holder == self.holder)

    async def release_lease(self, name: str) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                delete(leases).where(
                    leases.c.name == f"{self.connector_id}:{name}", leases.c.holder == self.holder
                )
            )

    async def quarantine(
        self,
        raw: bytes,
        reason: str,
        external_id: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> int:
        if len(raw) > MAX_QUARANTINE_BYTES:
            # Keep the start and say so: the reason must survive even for absurd input.
            reason = f"{reason} (raw input truncated from {len(raw)} bytes)"
            raw = raw[:MAX_QUARANTINE_BYTES]
        stmt = (
            self.store.insert(quarantine)
            .values(
                connector_id=self.connector_id,
                external_id=external_id,
                reason=reason[:5000],
                raw=raw,
                meta=meta or {},
                status="open",
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["connector_id", "external_id"])
            .returning(quarantine.c.id)
        )
        async with self.store.write() as conn:
            row = (await conn.execute(stmt)).first()
            if row is not None:
                return int(row.id)
            return int(
                (
                    await conn.execute(
                        select(quarantine.c.id).where(
                            quarantine.c.connector_id == self.connector_id,
                            quarantine.c.external_id == external_id,
                        )
                    )
                ).scalar_one()
            )
