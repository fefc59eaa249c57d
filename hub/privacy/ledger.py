"""The erasure ledger: keyed hashes of an erased person's identities, so an erasure can be
applied again after an older copy of the database is restored.

Only HMAC-SHA256 digests under the hub's secret are kept: the ledger names nobody, and
without the secret its entries cannot be tested against guesses. Each entry is written to
the database and appended to a file kept apart from it (`privacy.ledger_file`): the backup
being restored holds an older ledger, the file does not. An identity created after the
erasure is a new contact, not a restored one: `reapply` leaves it alone (a person who writes
again after being erased becomes a new, empty customer).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.schema import erasure_ledger, identities


def ledger_key(kind: str, value: str, secret: bytes) -> str:
    message = f"{kind}\x00{value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _append(path: Path, entries: list[dict[str, str]]) -> None:
    """Appended and synced before the erasure commits: an entry for an erasure that then
    failed only means that person is erased again later, as they asked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for entry in entries:
            f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_ledger_file(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash while appending
        if isinstance(entry, dict) and {"key", "mode", "erased_at"} <= entry.keys():
            out.append(entry)
    return out


async def record_in_ledger(
    conn: AsyncConnection,
    idents: Iterable[tuple[str, str]],
    mode: str,
    secret: bytes,
    now: datetime,
    ledger_file: Path | None,
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
        if ledger_file is not None:
            stamp = now.isoformat()
            _append(ledger_file, [{"key": k, "mode": mode, "erased_at": stamp} for k in fresh])
        await conn.execute(
            erasure_ledger.insert(),
            [{"key_hash": k, "mode": mode, "erased_at": now} for k in fresh],
        )
    return len(fresh)


async def restore_ledger(conn: AsyncConnection, ledger_file: Path | None) -> int:
    """Put back into the database the ledger entries the file has and it lacks."""
    if ledger_file is None:
        return 0
    entries = {e["key"]: e for e in read_ledger_file(ledger_file)}
    if not entries:
        return 0
    known = set((await conn.execute(select(erasure_ledger.c.key_hash))).scalars())
    missing = [e for k, e in entries.items() if k not in known]
    if missing:
        await conn.execute(
            erasure_ledger.insert(),
            [
                {
                    "key_hash": e["key"],
                    "mode": e["mode"],
                    "erased_at": datetime.fromisoformat(e["erased_at"]),
                }
                for e in missing
            ],
        )
    return len(missing)


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
