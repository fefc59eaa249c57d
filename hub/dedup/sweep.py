"""One sweep over every customer: find the duplicate pairs, queue them for review, and (only
when configured) merge the exact ones no verified identity contradicts.

The customers are read in one pass, the pairs found in a worker thread (the comparison is
CPU work; the event loop keeps serving), and the queue written in one transaction: a pair
new to the queue is inserted; one still open gets the new score and reasons; one a reviewer
called "not the same person" (status "distinct") or merged is left alone for ever.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.duplicates import DuplicatesConfig
from hub.customers.merge import MergeRefused, merge_customers
from hub.dedup.detect import Candidate, find_duplicates
from hub.dedup.profile import Profile, Profiles
from hub.store import Store, utcnow
from hub.store.schema import customers, duplicate_suggestions, identities

log = logging.getLogger(__name__)

AUTO_MERGE_BY = "duplicate detection"


@dataclass(frozen=True)
class SweepResult:
    customers: int
    pairs: list[Candidate]
    queued: int  # pairs new to the review queue
    merged: int  # pairs merged automatically


async def load_profiles(conn: AsyncConnection) -> list[Profile]:
    """Every customer not merged into another, with their identities."""
    idents: dict[int, list[tuple[str, str]]] = {}
    rows = await conn.execute(
        select(identities.c.customer_id, identities.c.kind, identities.c.value)
        .join(customers, customers.c.id == identities.c.customer_id)
        .where(customers.c.merged_into.is_(None))
    )
    for cid, kind, value in rows:
        idents.setdefault(cid, []).append((kind, value))
    out = []
    rows = await conn.execute(
        select(
            customers.c.id, customers.c.display_name, customers.c.birthday, customers.c.address
        ).where(customers.c.merged_into.is_(None))
    )
    for cid, name, birthday, address in rows:
        out.append(
            Profile(
                id=cid,
                name=name or "",
                birthday=birthday if isinstance(birthday, date) else None,
                address={k: str(v) for k, v in (address or {}).items() if v},
                identities=tuple(idents.get(cid, ())),
            )
        )
    return out


def detect(profiles: list[Profile], settings: DuplicatesConfig) -> list[Candidate]:
    return find_duplicates(Profiles(profiles), settings.review_threshold, settings.max_block)


@dataclass(frozen=True)
class Queued:
    id: int
    status: str
    score: float | None
    reasons: list[str] | None


Known = dict[tuple[int, int], Queued]


async def known_pairs(conn: AsyncConnection) -> Known:
    """Every pair ever queued, by (lower id, higher id)."""
    return {
        (r.customer_id, r.other_customer_id): Queued(r.id, r.status, r.score, r.reasons)
        for r in await conn.execute(
            select(
                duplicate_suggestions.c.id,
                duplicate_suggestions.c.customer_id,
                duplicate_suggestions.c.other_customer_id,
                duplicate_suggestions.c.status,
                duplicate_suggestions.c.score,
                duplicate_suggestions.c.reasons,
            )
        )
    }


async def queue_pairs(
    conn: AsyncConnection, store: Store, pairs: list[Candidate], known: Known
) -> int:
    """Write the pairs into the review queue (see the module doc); returns how many are new."""
    now = utcnow()
    fresh, changed = [], []
    for c in pairs:
        seen = known.get((c.a, c.b))
        row = {"score": round(c.score, 4), "reasons": list(c.reasons)}
        if seen is None:
            reason = ("exact: " if c.exact else "") + (c.reasons[0] if c.reasons else "alike")
            fresh.append(
                row
                | {"customer_id": c.a, "other_customer_id": c.b, "reason": reason[:200]}
                | {"status": "open", "created_at": now}
            )
        elif seen.status == "open" and (seen.score, seen.reasons) != tuple(row.values()):
            changed.append((seen.id, row))
    if fresh:
        await conn.execute(
            store.insert(duplicate_suggestions).on_conflict_do_nothing(
                index_elements=["customer_id", "other_customer_id"]
            ),
            fresh,
        )
    for suggestion_id, row in changed:
        await conn.execute(
            update(duplicate_suggestions)
            .where(duplicate_suggestions.c.id == suggestion_id)
            .values(**row)
        )
    return len(fresh)


async def auto_merge(conn: AsyncConnection, pairs: list[Candidate], known: Known) -> int:
    """Merge the exact pairs without conflicts, each into the older customer (lower id).
    A customer takes part in one merge per sweep: in a chain (a = b, b = c) a and c may
    conflict, which the next sweep sees on the merged record and leaves to a person."""
    touched: set[int] = set()
    merged = 0
    for c in pairs:
        decided = (q := known.get((c.a, c.b))) is not None and q.status != "open"
        if not c.exact or decided or c.conflicts or {c.a, c.b} & touched:
            continue
        try:
            await merge_customers(conn, c.a, c.b, AUTO_MERGE_BY)
        except MergeRefused as exc:
            log.info("duplicates auto_merge=skipped a=%s b=%s why=%s", c.a, c.b, exc)
            continue
        touched |= {c.a, c.b}
        merged += 1
    return merged


async def sweep(store: Store, settings: DuplicatesConfig) -> SweepResult:
    async with store.read() as conn:
        profiles = await load_profiles(conn)
    pairs = await asyncio.to_thread(detect, profiles, settings)
    async with store.write() as conn:
        known = await known_pairs(conn)
        # "Not the same person" is for good: such a pair is neither queued nor reported.
        pairs = [c for c in pairs if (q := known.get((c.a, c.b))) is None or q.status != "distinct"]
        queued = await queue_pairs(conn, store, pairs, known)
        merged = 0
        if settings.auto_merge:
            merged = await auto_merge(conn, pairs, known)
    log.info(
        "duplicates customers=%d pairs=%d queued=%d merged=%d",
        len(profiles),
        len(pairs),
        queued,
        merged,
    )
    return SweepResult(len(profiles), pairs, queued, merged)
