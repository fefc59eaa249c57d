"""Free text that names an erased person outside their own rows: the posts to team channels
(Slack, Teams: a ticket's subject and customer name) and quarantined raw input."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.schema import outbox, quarantine

ERASED = "[erased]"
_BATCH = 500


def _replace(value: Any, terms: list[str]) -> Any:
    if isinstance(value, str):
        for term in terms:
            value = value.replace(term, ERASED)
        return value
    if isinstance(value, list):
        return [_replace(v, terms) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, terms) for k, v in value.items()}
    return value


def _likes(column: Any, terms: list[str]) -> list[Any]:
    # JSON text may hold non-ASCII as \\u escapes: look for both spellings.
    spelled = {t for term in terms for t in (term, json.dumps(term)[1:-1])}
    return [column.like(f"%{t}%") for t in sorted(spelled)]


async def scrub_channel_posts(conn: AsyncConnection, terms: list[str]) -> int:
    if not terms:
        return 0
    where = or_(
        *_likes(outbox.c.body_text, terms),
        *_likes(outbox.c.subject, terms),
        *_likes(cast(outbox.c.payload, Text), terms),
    )
    rows = (
        await conn.execute(
            select(outbox.c.id, outbox.c.body_text, outbox.c.subject, outbox.c.payload).where(
                outbox.c.recipient_kind == "channel", where
            )
        )
    ).all()
    for row in rows:
        await conn.execute(
            update(outbox)
            .where(outbox.c.id == row.id)
            .values(
                body_text=_replace(row.body_text, terms),
                subject=_replace(row.subject, terms),
                payload=_replace(row.payload, terms),
            )
        )
    return len(rows)


async def scrub_quarantine(conn: AsyncConnection, terms: list[str]) -> int:
    """Quarantined input that mentions the person goes: it is kept for operators to read,
    and it cannot be read without them in it."""
    if not terms:
        return 0
    needles = [t.encode() for t in terms]
    doomed: list[int] = []
    last = 0
    while True:
        rows = (
            await conn.execute(
                select(quarantine.c.id, quarantine.c.raw, quarantine.c.meta)
                .where(quarantine.c.id > last)
                .order_by(quarantine.c.id)
                .limit(_BATCH)
            )
        ).all()
        if not rows:
            break
        last = rows[-1].id
        for row in rows:
            text = bytes(row.raw) + json.dumps(row.meta, ensure_ascii=False).encode()
            if any(n in text for n in needles):
                doomed.append(int(row.id))
    if doomed:
        await conn.execute(delete(quarantine).where(quarantine.c.id.in_(doomed)))
    return len(doomed)
