"""Customers and their CRM records: who is linked to which record, what is due to push, and
what became of a push. The remote id is kept twice: as an identity of the connector's kind
(pulls find the customer by it) and on the link (an erasure still knows it after the
customer's identities are gone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.crm.fields import HubRecord
from hub.store import Store, utcnow
from hub.store.schema import crm_links, customers, identities

# crm_links.remote_id holds this much; a CRM's record ids are far shorter (HubSpot's are
# numbers, Salesforce's 18 characters).
MAX_REMOTE_ID = 64


@dataclass(frozen=True)
class Due:
    customer_id: int
    version: int
    remote_id: str | None
    erase: str | None
    attempts: int


async def due(conn: AsyncConnection, connector_id: str, now: datetime, limit: int) -> list[Due]:
    rows = await conn.execute(
        select(crm_links)
        .where(crm_links.c.connector_id == connector_id, crm_links.c.due_at <= now)
        .order_by(crm_links.c.due_at, crm_links.c.customer_id)
        .limit(limit)
    )
    return [Due(r.customer_id, r.version, r.remote_id, r.erase, r.attempts) for r in rows]


async def next_due(conn: AsyncConnection, connector_id: str) -> datetime | None:
    found = await conn.execute(
        select(crm_links.c.due_at)
        .where(crm_links.c.connector_id == connector_id, crm_links.c.due_at.is_not(None))
        .order_by(crm_links.c.due_at)
        .limit(1)
    )
    return found.scalar_one_or_none()


async def load_records(conn: AsyncConnection, ids: list[int]) -> dict[int, HubRecord]:
    """Live (not merged away) customers with their newest email and phone (the address
    added last is the one a CRM gets: the customer's current one)."""
    rows = (
        await conn.execute(
            select(customers).where(customers.c.id.in_(ids), customers.c.merged_into.is_(None))
        )
    ).all()
    found: dict[int, dict[str, str]] = {}
    idents = await conn.execute(
        select(identities.c.customer_id, identities.c.kind, identities.c.value)
        .where(identities.c.customer_id.in_(ids), identities.c.kind.in_(("email", "phone")))
        .order_by(identities.c.id.desc())
    )
    for i in idents:
        found.setdefault(i.customer_id, {}).setdefault(i.kind, i.value)
    return {
        r.id: HubRecord(
            r.id, r._mapping, found.get(r.id, {}).get("email"), found.get(r.id, {}).get("phone")
        )
        for r in rows
    }


async def pushed(
    conn: AsyncConnection, connector_id: str, done: list[tuple[Due, str | None]], now: datetime
) -> None:
    """These pushes landed: each is cleared unless a change came in since it was read."""
    if not done:
        return
    key = (crm_links.c.connector_id == connector_id) & (
        crm_links.c.customer_id == bindparam("b_id")
    )
    # One statement: due_at is cleared only where no change came in since the read.
    unchanged = crm_links.c.version == bindparam("b_version")
    await conn.execute(
        update(crm_links)
        .where(key)
        .values(
            attempts=0,
            last_error=None,
            pushed_at=now,
            remote_id=func.coalesce(bindparam("b_remote"), crm_links.c.remote_id),
            due_at=case((unchanged, None), else_=crm_links.c.due_at),
            changed_at=case((unchanged, None), else_=crm_links.c.changed_at),
        ),
        [
            {"b_id": item.customer_id, "b_remote": remote, "b_version": item.version}
            for item, remote in done
        ],
    )


async def retry_later(
    conn: AsyncConnection, connector_id: str, item: Due, error: str, when: datetime
) -> None:
    await conn.execute(
        update(crm_links)
        .where(
            crm_links.c.connector_id == connector_id, crm_links.c.customer_id == item.customer_id
        )
        .values(attempts=item.attempts + 1, last_error=error[:500], due_at=when)
    )


async def forget(conn: AsyncConnection, connector_id: str, customer_id: int) -> None:
    """The erasure reached the CRM (or there was nothing there): nothing of it stays."""
    await conn.execute(
        crm_links.delete().where(
            crm_links.c.connector_id == connector_id, crm_links.c.customer_id == customer_id
        )
    )


async def customer_of_remote(conn: AsyncConnection, kind: str, remote_id: str) -> int | None:
    return (
        await conn.execute(
            select(identities.c.customer_id).where(
                identities.c.kind == kind, identities.c.value == remote_id
            )
        )
    ).scalar_one_or_none()


async def link(
    store: Store,
    conn: AsyncConnection,
    key: tuple[str, str],
    pairs: list[tuple[int, str]],
    rows: bool = True,
) -> None:
    """Keep each (customer, record id) as the customer's identity of `kind` and (`rows`)
    on its link row. A record id already held by another customer (the CRM merged two)
    stays with that one."""
    if not pairs:
        return
    connector_id, kind = key
    owners = dict(
        (
            await conn.execute(
                select(identities.c.value, identities.c.customer_id).where(
                    identities.c.kind == kind, identities.c.value.in_([r for _, r in pairs])
                )
            )
        ).all()
    )
    moving = [(c, r) for c, r in pairs if r not in owners]
    if moving:
        await conn.execute(
            identities.delete().where(
                identities.c.kind == kind, identities.c.customer_id.in_([c for c, _ in moving])
            )
        )
        now = utcnow()
        await conn.execute(
            identities.insert(),
            [
                {
                    "customer_id": c,
                    "kind": kind,
                    "value": r,
                    "unreachable": False,
                    "created_at": now,
                }
                for c, r in moving
            ],
        )
    if not rows:
        return  # the caller writes the link rows (a push records the id with its outcome)
    upsert = store.insert(crm_links)
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["connector_id", "customer_id"],
            set_={"remote_id": upsert.excluded.remote_id},
        ),
        [
            {
                "connector_id": connector_id,
                "customer_id": c,
                "remote_id": r,
                "version": 0,
                "attempts": 0,
            }
            for c, r in pairs
        ],
    )


async def remote_ids(conn: AsyncConnection, kind: str, ids: list[int]) -> dict[int, str]:
    rows = await conn.execute(
        select(identities.c.customer_id, identities.c.value).where(
            identities.c.customer_id.in_(ids), identities.c.kind == kind
        )
    )
    return {r.customer_id: r.value for r in rows}


async def retry_at_all(
    conn: AsyncConnection, connector_id: str, items: list[Due], error: str, when: datetime
) -> None:
    """The CRM could not be asked: the whole batch is due again at `when`."""
    for item in items:
        await retry_later(conn, connector_id, item, error, when)
