"""Who last set each customer field, and when: an agent's edit is kept against CRM changes
(unless configured), and the CRM sync's most_recent policy compares these times."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.schema import customer_field_edits

# Edits made by people: through the API (agents' tools) and the inbox. The values they
# typed are kept against a CRM's changes unless its sync says otherwise.
AGENT_SOURCES = frozenset({"api", "inbox"})


def edited_fields(values: dict[str, Any]) -> list[str]:
    """Column values -> field names as the CRM mapping knows them (address.city, ...)."""
    out: list[str] = []
    for key in values:
        if key == "address":
            out += [f"address.{k}" for k in ("street", "city", "region", "postal_code", "country")]
        elif not key.endswith("_md"):
            out.append(key)
    return out


async def record_edits(
    conn: AsyncConnection, customer_id: int, fields: Iterable[str], source: str, now: datetime
) -> None:
    names = sorted(set(fields))
    if not names:
        return
    await conn.execute(
        delete(customer_field_edits).where(
            customer_field_edits.c.customer_id == customer_id,
            customer_field_edits.c.field.in_(names),
        )
    )
    await conn.execute(
        customer_field_edits.insert(),
        [
            {"customer_id": customer_id, "field": f, "source": source, "edited_at": now}
            for f in names
        ],
    )


async def edits_of(
    conn: AsyncConnection, customer_ids: Iterable[int]
) -> dict[int, dict[str, tuple[str, datetime]]]:
    """customer id -> field -> (source, edited_at)."""
    out: dict[int, dict[str, tuple[str, datetime]]] = {}
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), 500):
        rows = await conn.execute(
            select(customer_field_edits).where(
                customer_field_edits.c.customer_id.in_(ids[start : start + 500])
            )
        )
        for r in rows:
            out.setdefault(r.customer_id, {})[r.field] = (r.source, r.edited_at)
    return out
