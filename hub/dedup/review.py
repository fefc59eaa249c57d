"""The review queue: open pairs side by side, and a reviewer's "not the same person".

A merge is the existing one (hub.customers.merge, with undo); "not the same person" marks the
pair "distinct", which the sweep never reopens (hub.dedup.sweep).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.agents.accounts import Actor
from hub.customers.views import list_suggestions
from hub.store import utcnow
from hub.store.schema import customers, duplicate_suggestions, identities


@dataclass(frozen=True)
class Side:
    id: int
    name: str
    birthday: date | None
    address: dict[str, str]
    identities: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PairView:
    suggestion_id: int
    score: float | None
    reasons: tuple[str, ...]
    left: Side
    right: Side


async def _sides(conn: AsyncConnection, ids: set[int]) -> dict[int, Side]:
    idents: dict[int, list[tuple[str, str]]] = {}
    for cid, kind, value in await conn.execute(
        select(identities.c.customer_id, identities.c.kind, identities.c.value)
        .where(identities.c.customer_id.in_(ids))
        .order_by(identities.c.id)
    ):
        idents.setdefault(cid, []).append((kind, value))
    rows = await conn.execute(
        select(
            customers.c.id, customers.c.display_name, customers.c.birthday, customers.c.address
        ).where(customers.c.id.in_(ids))
    )
    return {
        r.id: Side(
            r.id,
            r.display_name or "",
            r.birthday,
            {k: str(v) for k, v in (r.address or {}).items() if v},
            tuple(idents.get(r.id, ())),
        )
        for r in rows
    }


async def review_queue(conn: AsyncConnection, actor: Actor, limit: int = 100) -> list[PairView]:
    """Open pairs both of whose customers the actor may see, the likeliest first."""
    rows = await list_suggestions(conn, actor, limit)
    if not rows:
        return []
    sides = await _sides(conn, {r.customer_id for r in rows} | {r.other_customer_id for r in rows})
    return [
        PairView(
            r.id,
            r.score,
            tuple(r.reasons or (r.reason,)),
            sides[r.customer_id],
            sides[r.other_customer_id],
        )
        for r in rows
        if r.customer_id in sides and r.other_customer_id in sides
    ]


async def find_suggestion(conn: AsyncConnection, suggestion_id: int) -> Any | None:
    return (
        await conn.execute(
            select(duplicate_suggestions).where(duplicate_suggestions.c.id == suggestion_id)
        )
    ).first()


async def mark_distinct(conn: AsyncConnection, suggestion_id: int, by: str) -> bool:
    """Remember that the pair is two people; False if it was not open (merged, decided)."""
    done = await conn.execute(
        update(duplicate_suggestions)
        .where(
            duplicate_suggestions.c.id == suggestion_id,
            duplicate_suggestions.c.status == "open",
        )
        .values(status="distinct", decided_by=by, decided_at=utcnow())
    )
    return bool(done.rowcount)
