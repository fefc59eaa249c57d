"""A message's attachments, stored with it; those the connector dropped are recorded
without content."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.ingest.arrival import Arrival
from hub.store.schema import attachments


async def store_attachments(conn: AsyncConnection, fresh: list[Arrival], now: datetime) -> None:
    rows = []
    for arrival in fresh:
        msg, message_id = arrival.msg, arrival.message_id
        for a in msg.attachments:
            rows.append(
                {
                    "message_id": message_id,
                    "filename": a.filename[:300],
                    "content_type": a.content_type[:200],
                    "size": len(a.content),
                    "sha256": hashlib.sha256(a.content).hexdigest(),
                    "content": a.content,
                    "dropped_reason": None,
                    "created_at": now,
                }
            )
        for d in msg.dropped_attachments:
            # Recorded without content, so the ticket says what did not arrive.
            rows.append(
                {
                    "message_id": message_id,
                    "filename": d.filename[:300],
                    "content_type": d.content_type[:200],
                    "size": d.size,
                    "sha256": "",
                    "content": None,
                    "dropped_reason": d.reason[:200],
                    "created_at": now,
                }
            )
    if rows:
        await conn.execute(attachments.insert(), rows)
