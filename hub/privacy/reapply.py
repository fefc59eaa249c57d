"""`reapply-erasures`: after an older copy of the database is restored, the people erased
since come back with it; the ledger (its file outlives the restore) finds them and they are
erased again."""

from __future__ import annotations

from hub.privacy.erase import Eraser, ErasureReport, erase_customer
from hub.privacy.ledger import restore_ledger, restored_customers
from hub.privacy.scope import find_customer
from hub.store import Store


async def reapply_erasures(store: Store, by: Eraser) -> list[ErasureReport]:
    async with store.write() as conn:
        await restore_ledger(conn, by.ledger_file)
    async with store.read() as conn:
        found = await restored_customers(conn, by.secret)
    reports = []
    for cid, mode in sorted(found.items()):
        async with store.write() as conn:
            person = await find_customer(conn, str(cid))
            erase_mode = "delete" if mode == "delete" else "anonymize"
            reports.append(await erase_customer(conn, person, erase_mode, by))
    return reports
