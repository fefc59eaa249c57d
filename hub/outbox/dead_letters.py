"""Dead-letter alerts as they happen, written in the transaction that dead-letters a send
(hub.notify.alerts sends them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.schema import alert_events

DISABLED, NOT_READY, DEAD = "disabled", "not_ready", "dead"
# A webhook endpoint disabled (410 Gone, or too many failures in a row): hub.webhooks.
WEBHOOK_DISABLED = "webhook_disabled"
# A CRM refused the sync's credentials (hub.crm): its changes wait until they are renewed.
CRM_AUTH = "crm_auth"
ALERT_KIND = "alert"  # the outbox kind of alert posts


async def record_dead_letter(
    conn: AsyncConnection, targets: Sequence[str], row: Any, error: str, now: datetime
) -> None:
    """In the caller's transaction that dead-letters `row`: one pending alert per target.
    An alert post itself dead-lettered raises none (its log line is the trace)."""
    if not targets or row.kind == ALERT_KIND:
        return
    await conn.execute(
        alert_events.insert(),
        [
            {
                "target": t,
                "kind": DEAD,
                "connector_id": row.connector_id,
                "detail": f"{row.kind} to {row.recipient}: {error}"[:300],
                "dead_outbox_id": row.id,
                "status": "pending",
                "created_at": now,
            }
            for t in targets
        ],
    )
