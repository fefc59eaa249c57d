"""Customer records: resolving a sender's identities to one customer, creating new ones."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.messages import Address
from hub.store import Store, utcnow
from hub.store.schema import customers, duplicate_suggestions, identities


@dataclass(frozen=True)
class Customer:
    id: int
    display_name: str | None
    locale: str
    timezone: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class NewCustomer:
    """What a new customer starts with, when no identity matched."""

    display_name: str | None
    locale: str
    timezone: str


async def load_customer(conn: AsyncConnection, customer_id: int) -> Customer:
    row = (
        await conn.execute(
            select(
                customers.c.id,
                customers.c.display_name,
                customers.c.locale,
                customers.c.timezone,
                customers.c.tags,
                customers.c.merged_into,
            ).where(customers.c.id == customer_id)
        )
    ).one()
    if row.merged_into is not None:
        return await load_customer(conn, row.merged_into)
    return Customer(row.id, row.display_name, row.locale, row.timezone, tuple(row.tags or ()))


async def resolve_customer(
    store: Store, conn: AsyncConnection, addrs: list[Address], new: NewCustomer
) -> tuple[Customer, bool]:
    """The customer these (normalized) identities belong to, creating one if none does.

    The first address is the sender's primary one: when the addresses point at different
    customers, the primary's owner wins, the other identity stays where it is, and the
    pair is flagged as a likely duplicate for an agent to merge. Returns (customer, created).
    """
    owners = await _owners(conn, addrs)
    if owners:
        primary = next(owners[(a.kind, a.value)] for a in addrs if (a.kind, a.value) in owners)
        customer = await load_customer(conn, primary)
        for other in {o for o in owners.values() if o != primary}:
            await _suggest_duplicate(store, conn, customer.id, other, "identities given together")
        await _attach(
            store, conn, customer.id, [a for a in addrs if (a.kind, a.value) not in owners]
        )
        return customer, False

    now = utcnow()
    customer_id = (
        await conn.execute(
            customers.insert()
            .values(
                display_name=new.display_name,
                locale=new.locale,
                timezone=new.timezone,
                address={},
                tags=[],
                created_at=now,
                updated_at=now,
            )
            .returning(customers.c.id)
        )
    ).scalar_one()
    taken = await _attach(store, conn, customer_id, addrs)
    if taken:
        # Another hub process created this person between our lookup and insert: use theirs.
        await conn.execute(identities.delete().where(identities.c.customer_id == customer_id))
        await conn.execute(delete(customers).where(customers.c.id == customer_id))
        return await resolve_customer(store, conn, addrs, new)
    return Customer(customer_id, new.display_name, new.locale, new.timezone, ()), True


async def _owners(conn: AsyncConnection, addrs: list[Address]) -> dict[tuple[str, str], int]:
    if not addrs:
        return {}
    owners: dict[tuple[str, str], int] = {}
    for kind in {a.kind for a in addrs}:
        values = [a.value for a in addrs if a.kind == kind]
        rows = await conn.execute(
            select(identities.c.value, identities.c.customer_id).where(
                identities.c.kind == kind, identities.c.value.in_(values)
            )
        )
        for value, customer_id in rows:
            owners[(kind, value)] = customer_id
    return owners


async def _attach(
    store: Store, conn: AsyncConnection, customer_id: int, addrs: list[Address]
) -> bool:
    """Add identities to a customer; True if one already belonged to someone else."""
    taken = False
    for a in addrs:
        result = await conn.execute(
            store.insert(identities)
            .values(
                customer_id=customer_id,
                kind=a.kind,
                value=a.value,
                display_name=a.display_name,
                unreachable=False,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["kind", "value"])
        )
        taken = taken or result.rowcount == 0
    return taken


async def _suggest_duplicate(
    store: Store, conn: AsyncConnection, a: int, b: int, reason: str
) -> None:
    low, high = sorted((a, b))
    await conn.execute(
        store.insert(duplicate_suggestions)
        .values(
            customer_id=low,
            other_customer_id=high,
            reason=reason,
            status="open",
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["customer_id", "other_customer_id"])
    )
