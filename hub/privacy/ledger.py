"""The erasure ledger: keyed hashes of an erased person's identities, so an erasure can be
applied again after an older copy of the database is restored.

Only HMAC-SHA256 digests under the hub's secret are kept: the ledger names nobody, and
without the secret its entries cannot be tested against guesses. An identity created after
the erasure is a new contact, not a restored one: `reapply` leaves it alone (a person who
writes again after being erased becomes a new, empty customer).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.schema import erasure_ledger, identities


def ledger_key(kind: str, value: str, secret: bytes) -> str:
    message = f"{kind}\x00{value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


async def record_in_ledger(
    conn: AsyncConnection,
    idents: Iterable[tuple[str, str]],
    mode: str,
    secret: bytes,
    now: object,
) -> int:
    keys = sorted({ledger_key(k, v, secret) for k, v in idents})
    if not keys:
        return 0
    known = set(
        (
            await conn.execute(
                select(erasure_ledger.c.key_hash).where(erasure_ledger.c.key_hash.in_(keys))
            )
        ).scalars()
    )
    fresh = [k for k in keys if k not in known]
    if fresh:
        await conn.execute(
            erasure_ledger.insert(),
            [{"key_hash": k, "mode": mode, "erased_at": now} for k in fresh],
        )
    return len(fresh)


async def restored_customers(conn: AsyncConnection, secret: bytes) -> dict[int, str]:
    """Customers holding an identity the ledger says was erased, with the mode it was
    erased in, when the identity is older than the erasure (restored from a backup)."""
    ledger = {
        r.key_hash: r
        for r in await conn.execute(
            select(erasure_ledger.c.key_hash, erasure_ledger.c.mode, erasure_ledger.c.erased_at)
        )
    }
    if not ledger:
        return {}
    found: dict[int, str] = {}
    rows = await conn.stream(
        select(
            identities.c.customer_id,
            identities.c.kind,
            identities.c.value,
            identities.c.created_at,
        )
    )
    async for row in rows:
        entry = ledger.get(ledger_key(row.kind, row.value, secret))
        if entry is not None and row.created_at <= entry.erased_at:
            found[int(row.customer_id)] = entry.mode
    return found
