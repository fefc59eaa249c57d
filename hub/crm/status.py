"""What an operator asks of a CRM sync (`hub crm status`): how many customers are linked,
how many wait for a push, which keep failing and why, and how far pulls have read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from hub.store import Store
from hub.store.schema import crm_cursors, crm_links


@dataclass(frozen=True)
class Failing:
    customer_id: int
    attempts: int
    last_error: str
    due_at: datetime


@dataclass(frozen=True)
class SyncStatus:
    connector_id: str
    linked: int
    due: int
    oldest_change: datetime | None
    pulled_until: datetime | None
    failing: list[Failing]


async def sync_status(store: Store, connector_id: str, limit: int = 10) -> SyncStatus:
    mine = crm_links.c.connector_id == connector_id
    pending = crm_links.c.due_at.is_not(None)
    async with store.read() as conn:
        linked = (
            await conn.execute(select(func.count()).where(mine, crm_links.c.remote_id.is_not(None)))
        ).scalar_one()
        due, oldest = (
            await conn.execute(
                select(func.count(), func.min(crm_links.c.changed_at)).where(mine, pending)
            )
        ).one()
        pulled = (
            await conn.execute(
                select(crm_cursors.c.pulled_until).where(crm_cursors.c.connector_id == connector_id)
            )
        ).scalar_one_or_none()
        failing = (
            await conn.execute(
                select(crm_links)
                .where(mine, pending, crm_links.c.attempts > 0)
                .order_by(crm_links.c.attempts.desc(), crm_links.c.customer_id)
                .limit(limit)
            )
        ).all()
    return SyncStatus(
        connector_id=connector_id,
        linked=int(linked),
        due=int(due),
        oldest_change=oldest,
        pulled_until=pulled,
        failing=[Failing(r.customer_id, r.attempts, r.last_error or "", r.due_at) for r in failing],
    )
