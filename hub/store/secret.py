"""The hub's signing key: from config, or generated once and kept in the database."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from hub.store import Store, utcnow
from hub.store.schema import connector_state

_OWNER, _KEY = "_hub", "secret_key"


async def hub_secret(store: Store, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    candidate = secrets.token_hex(32)
    stmt = store.insert(connector_state).values(
        connector_id=_OWNER, key=_KEY, value=candidate, updated_at=utcnow()
    )
    async with store.write() as conn:
        # The first process to start creates it; every other one reads the same key.
        await conn.execute(stmt.on_conflict_do_nothing(index_elements=["connector_id", "key"]))
        value = (
            await conn.execute(
                select(connector_state.c.value).where(
                    connector_state.c.connector_id == _OWNER, connector_state.c.key == _KEY
                )
            )
        ).scalar_one()
    return str(value).encode()
