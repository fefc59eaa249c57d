"""Retention: customers with no activity for the configured number of days are erased (or
anonymized) by a scheduled job; `hub customers retention --dry-run` lists who would go."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.privacy import PrivacyConfig, RetentionConfig
from hub.privacy.erase import Eraser, ErasureReport, erase_customer
from hub.privacy.event_log import prune_integration_log
from hub.store import Store, utcnow
from hub.store.schema import customers, messages, purchases

log = logging.getLogger("hub.privacy")
_BATCH = 100


async def inactive_customers(
    conn: AsyncConnection, inactive_days: int, now: datetime, limit: int | None = None
) -> list[int]:
    """Surviving, not yet erased customers whose last message, purchase and own update are
    all older than the cut-off."""
    cutoff = now - timedelta(days=inactive_days)
    last_message = (
        select(messages.c.customer_id, func.max(messages.c.received_at).label("at"))
        .group_by(messages.c.customer_id)
        .subquery()
    )
    last_purchase = (
        select(purchases.c.customer_id, func.max(purchases.c.purchased_at).label("at"))
        .group_by(purchases.c.customer_id)
        .subquery()
    )
    stmt = (
        select(customers.c.id)
        .outerjoin(last_message, last_message.c.customer_id == customers.c.id)
        .outerjoin(last_purchase, last_purchase.c.customer_id == customers.c.id)
        .where(
            customers.c.merged_into.is_(None),
            customers.c.erased_at.is_(None),
            customers.c.updated_at < cutoff,
            (last_message.c.at.is_(None)) | (last_message.c.at < cutoff),
            (last_purchase.c.at.is_(None)) | (last_purchase.c.at < cutoff),
        )
        .order_by(customers.c.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [int(i) for i in (await conn.execute(stmt)).scalars()]


async def apply_retention(store: Store, config: RetentionConfig, by: Eraser) -> list[ErasureReport]:
    """Erase every inactive customer, a batch per transaction (resumable: a crash leaves
    whole erasures, and the next run takes the rest)."""
    reports: list[ErasureReport] = []
    if not config.enabled:
        return reports
    while True:
        async with store.write() as conn:
            batch = await inactive_customers(conn, config.inactive_days, by.now, limit=_BATCH)
            for cid in batch:
                reports.append(await erase_customer(conn, cid, config.mode, by))
        if len(batch) < _BATCH:
            return reports


class RetentionJob:
    """The scheduled jobs: `privacy.retention` applied every `every_hours`, and the
    integration log kept `integration_log_days` (hub.privacy.event_log)."""

    def __init__(
        self, store: Store, config: PrivacyConfig, secret: bytes, crm_ids: Sequence[str] = ()
    ) -> None:
        self._store, self._config, self._secret = store, config, secret
        self._crm_ids = tuple(crm_ids)

    async def run(self) -> None:
        by = Eraser("retention", self._secret, utcnow(), Path(self._config.ledger_file))
        await apply_retention(self._store, self._config.retention, by)

    async def prune_log(self) -> None:
        pruned = await prune_integration_log(
            self._store, self._config.integration_log_days, self._crm_ids
        )
        if pruned.deliveries or pruned.events:
            log.info(
                "integration log pruned deliveries=%s events=%s", pruned.deliveries, pruned.events
            )
