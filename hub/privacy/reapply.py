"""`reapply-erasures`: after an older copy of the database is restored, the people erased
since come back with it; the ledger finds them and they are erased again."""

from __future__ import annotations

from datetime import datetime

from hub.privacy.erase import ErasureReport, erase_customer
from hub.privacy.ledger import restored_customers
from hub.privacy.scope import find_customer
from hub.store import Store


async def reapply_erasures(store: Store, secret: bytes, now: datetime) -> list[ErasureReport]:
    async with store.read() as conn:
        found = await restored_customers(conn, secret)
    reports = []
    for cid, mode in sorted(found.items()):
        async with store.write() as conn:
            person = await find_customer(conn, str(cid))
            reports.append(
                await erase_customer(conn, person, mode, "reapply-erasures", secret, now)  # type: ignore[arg-type]
            )
    return reports
