"""Pushing: customers marked due are written to the CRM in batches.

A batch is read, sent, and its outcomes written in a new transaction; a crash in between
leaves the rows due, and the next push writes the same values again (the CRM's upserts are
idempotent). An outage or a rate limit puts the batch back with a later due time: nothing
is dropped, whatever the number of attempts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.crm.fields import HubRecord, to_properties
from hub.crm.links import (
    MAX_REMOTE_ID,
    Due,
    due,
    forget,
    link,
    load_records,
    pushed,
    retry_at_all,
    retry_later,
)
from hub.crm.parts import SyncParts
from hub.crm_seam import CrmChange, CrmOutcome, CrmRateLimited, CrmUnavailable, ErasureAction

log = logging.getLogger("hub.crm")


@dataclass
class PushReport:
    pushed: int = 0
    erased: int = 0
    refused: int = 0
    # Set when the CRM was unavailable: the round stops and the batch is due again then.
    paused_until: datetime | None = None
    # Why it was unavailable.
    failure: CrmUnavailable | None = None


async def push_batch(parts: SyncParts, report: PushReport) -> bool:
    """One batch; False when there was nothing due (or the CRM asked us to stop)."""
    limit = min(parts.settings.batch_size, parts.client.batch_limit)
    now = parts.now()
    async with parts.store.read() as conn:
        items = await due(conn, parts.connector_id, now, limit)
        records = await load_records(conn, [i.customer_id for i in items])
    if not items:
        return False
    try:
        for item in (i for i in items if i.erase):
            await _erase(parts, item, report)
        outcomes = await _push(parts, [i for i in items if not i.erase], records)
    except CrmUnavailable as exc:
        await _put_back(parts, items, exc, report)
        return False
    await _record(parts, items, outcomes, report)
    return True


async def _erase(parts: SyncParts, item: Due, report: PushReport) -> None:
    if item.remote_id is not None:
        action: ErasureAction = "delete" if item.erase == "delete" else "archive"
        await parts.client.remove(item.remote_id, action)
    async with parts.store.write() as conn:
        await forget(conn, parts.connector_id, item.customer_id)
    report.erased += 1


async def _push(
    parts: SyncParts, items: list[Due], records: dict[int, HubRecord]
) -> dict[int, CrmOutcome]:
    changes = [
        CrmChange(
            hub_id=rec.id,
            remote_id=item.remote_id,
            email=rec.email,
            phone=rec.phone,
            properties=to_properties(rec, parts.settings.fields),
        )
        for item in items
        if (rec := records.get(item.customer_id)) is not None
    ]
    if not changes:
        return {}
    return {o.hub_id: o for o in await parts.client.push(changes)}


async def _record(
    parts: SyncParts, items: list[Due], outcomes: dict[int, CrmOutcome], report: PushReport
) -> None:
    now = parts.now()
    done: list[tuple[Due, str | None]] = []
    linked: list[tuple[int, str]] = []
    async with parts.store.write() as conn:
        for item in items:
            if item.erase:
                continue
            outcome = outcomes.get(item.customer_id)
            if outcome is not None and len(outcome.remote_id or "") > MAX_REMOTE_ID:
                outcome = CrmOutcome(item.customer_id, error="the CRM gave an overlong record id")
            if outcome is None:  # merged away or gone: nothing of it to push
                done.append((item, None))
            elif outcome.error is not None:
                report.refused += 1
                log.warning(
                    "crm push refused connector=%s customer=%s error=%s",
                    parts.connector_id,
                    item.customer_id,
                    outcome.error,
                )
                await retry_later(
                    conn, parts.connector_id, item, outcome.error, parts.retry_at(item.attempts)
                )
            else:
                if outcome.remote_id and outcome.remote_id != item.remote_id:
                    linked.append((item.customer_id, outcome.remote_id))
                done.append((item, outcome.remote_id))
                report.pushed += 1
        await link(parts.store, conn, (parts.connector_id, parts.kind), linked, rows=False)
        await pushed(conn, parts.connector_id, done, now)


async def _put_back(
    parts: SyncParts, items: list[Due], exc: CrmUnavailable, report: PushReport
) -> None:
    attempts = max(i.attempts for i in items)
    when = parts.retry_at(attempts)
    if isinstance(exc, CrmRateLimited):
        when = parts.now() + timedelta(seconds=exc.seconds)
    log.warning(
        "crm unavailable connector=%s retry_at=%s error=%s",
        parts.connector_id,
        when.isoformat(),
        exc,
    )
    async with parts.store.write() as conn:
        await retry_at_all(conn, parts.connector_id, items, str(exc), when)
    report.paused_until = when
    report.failure = exc
