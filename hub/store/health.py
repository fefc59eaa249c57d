"""The storage's health for /healthz and /readyz: a cheap real write, so a store that can
be read but not written (read-only, disk full, locked) is not reported as fine."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import DBAPIError

from hub.store.engine import Store, utcnow
from hub.store.faults import fault_reason
from hub.store.schema import connector_state

# Longer than any healthy write waits for the writer lock, far shorter than a
# health checker's patience.
PROBE_SECONDS = 5.0
_OWNER, _KEY = "_hub", "health_probe"


async def storage_fault(store: Store) -> str | None:
    """None when a write commits, else why it did not (`fault_reason`)."""
    stmt = store.insert(connector_state).values(
        connector_id=_OWNER, key=_KEY, value="ok", updated_at=utcnow()
    )
    # One row, overwritten: it is a commit (a WAL frame on SQLite), never a growing table.
    stmt = stmt.on_conflict_do_update(
        index_elements=["connector_id", "key"], set_={"updated_at": stmt.excluded.updated_at}
    )
    try:
        async with asyncio.timeout(PROBE_SECONDS), store.write() as conn:
            await conn.execute(stmt)
    except TimeoutError:
        return f"locked: a write waited more than {PROBE_SECONDS:g} s"
    except (DBAPIError, OSError) as exc:
        return fault_reason(exc)
    return None
