"""Customer records: resolving a sender's identities to one customer, creating new ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.messages import Address
from hub.store import Store, utcnow
from hub.store.many import Many
from hub.store.schema import customers, duplicate_suggestions, identities, since_md


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


# What a Customer is made of, and merged_into to follow a merge to its survivor.
_CUSTOMER_COLUMNS = (
    customers.c.id,
    customers.c.display_name,
    customers.c.locale,
    customers.c.timezone,
    customers.c.tags,
    customers.c.merged_into,
)


def _customer(row: Any) -> Customer:
    return Customer(row.id, row.display_name, row.locale, row.timezone, tuple(row.tags or ()))


async def load_customer(conn: AsyncConnection, customer_id: int) -> Customer:
    row = (
        await conn.execute(select(*_CUSTOMER_COLUMNS).where(customers.c.id == customer_id))
    ).one()
    if row.merged_into is not None:
        return await load_customer(conn, row.merged_into)
    return _customer(row)


# Statements every ingest batch runs, built once per store (Store.statement).


def _owners_query(store: Store) -> Any:
    return select(identities.c.value, identities.c.customer_id).where(
        identities.c.kind == bindparam("kind"),
        identities.c.value.in_(bindparam("values", expanding=True)),
    )


def _customers_query(store: Store) -> Any:
    return select(*_CUSTOMER_COLUMNS).where(customers.c.id.in_(bindparam("ids", expanding=True)))


def _insert_identities(store: Store) -> Many:
    return Many(
        store.insert(identities)
        .on_conflict_do_nothing(index_elements=["kind", "value"])
        .returning(identities.c.kind)
    )


def _max_customer_id(store: Store) -> Any:
    return select(func.max(customers.c.id))


def _insert_customers_with_ids(store: Store) -> Many:
    # Its ids are assigned under SQLite's write lock: nothing should refuse the rows.
    return Many(insert(customers), deferred=True)


def _insert_customers_returning(store: Store) -> Any:
    return insert(customers).returning(customers.c.id, sort_by_parameter_order=True)


async def _owners(
    store: Store, conn: AsyncConnection, addrs: list[Address]
) -> dict[tuple[str, str], int]:
    if not addrs:
        return {}
    owners: dict[tuple[str, str], int] = {}
    for kind in {a.kind for a in addrs}:
        values = [a.value for a in addrs if a.kind == kind]
        rows = await conn.execute(store.statement(_owners_query), {"kind": kind, "values": values})
        for value, customer_id in rows:
            owners[(kind, value)] = customer_id
    return owners


class IdentityRace(Exception):
    """Another hub process claimed an identity while this batch was being resolved."""


@dataclass(frozen=True)
class CustomerRequest:
    """One sender to resolve: its normalized identities, primary first, and what a new
    customer would start with (computed only if one is created: it may be costly)."""

    addrs: Sequence[Address]
    new: Callable[[], NewCustomer]


async def resolve_customers(
    store: Store, conn: AsyncConnection, requests: Sequence[CustomerRequest]
) -> list[tuple[Customer, bool]]:
    """The customer each request's identities belong to, creating those that match none,
    as if the requests were resolved one after the other.

    A later request sees the customers and identities an earlier one created. The work
    is done with a handful of statements for the whole batch instead of a few for each
    sender. Where one sender at a time would have lost a race to another hub process
    (an identity it meant to attach is taken), this raises IdentityRace: the caller rolls
    back and tries again in a new transaction, which sees the other process's customer.
    The first address of a request is the sender's primary one: when its addresses point
    at different customers, the primary's owner wins, the other identity stays where it
    is, and the pair is flagged as a likely duplicate for an agent to merge.
    Returns (customer, created) for each request.
    """
    owner: dict[tuple[str, str], int] = await _owners(
        store, conn, _unique_addrs(a for r in requests for a in r.addrs)
    )
    known = await _load_customers(store, conn, set(owner.values()))
    # Customers created by this batch get negative placeholder ids until they are inserted.
    created: list[NewCustomer] = []
    chosen: list[int] = []
    attach: list[tuple[int, Address]] = []
    suggest: list[tuple[int, int]] = []
    for req in requests:
        owners = {
            (a.kind, a.value): owner[k] for a in req.addrs if (k := (a.kind, a.value)) in owner
        }
        if owners:
            primary = next(
                owners[(a.kind, a.value)] for a in req.addrs if (a.kind, a.value) in owners
            )
            cid = known[primary].id if primary > 0 else primary
            for other in sorted({o for o in owners.values() if o != primary}):
                suggest.append((cid, other))
            targets = [a for a in req.addrs if (a.kind, a.value) not in owners]
        else:
            created.append(req.new())
            cid = -len(created)
            targets = list(req.addrs)
        for a in targets:
            owner[(a.kind, a.value)] = cid
            attach.append((cid, a))
        chosen.append(cid)

    now = utcnow()
    real = await _insert_customers(store, conn, created, now)

    def resolved(cid: int) -> int:
        return real[-cid - 1] if cid < 0 else cid

    if attach:
        rows = [
            {
                "customer_id": resolved(cid),
                "kind": a.kind,
                "value": a.value,
                "display_name": a.display_name,
                "unreachable": False,
                "created_at": now,
            }
            for cid, a in attach
        ]
        if len(await store.statement(_insert_identities).run(conn, rows)) < len(rows):
            raise IdentityRace("an identity was claimed by another process meanwhile")
    if suggest:
        pairs = sorted({tuple(sorted((resolved(a), resolved(b)))) for a, b in suggest})
        await conn.execute(
            store.insert(duplicate_suggestions).on_conflict_do_nothing(
                index_elements=["customer_id", "other_customer_id"]
            ),
            [
                {
                    "customer_id": low,
                    "other_customer_id": high,
                    "reason": "identities given together",
                    "status": "open",
                    "created_at": now,
                }
                for low, high in pairs
            ],
        )
    out = []
    for cid in chosen:
        if cid < 0:
            new = created[-cid - 1]
            customer = Customer(resolved(cid), new.display_name, new.locale, new.timezone, ())
            out.append((customer, True))
        else:
            out.append((known[cid], False))
    return out


async def _load_customers(
    store: Store, conn: AsyncConnection, ids: set[int]
) -> dict[int, Customer]:
    """Each id's customer, following merges to the survivor (as load_customer does)."""
    if not ids:
        return {}
    rows = await conn.execute(store.statement(_customers_query), {"ids": sorted(ids)})
    out: dict[int, Customer] = {}
    for row in rows.all():
        if row.merged_into is not None:
            out[row.id] = await load_customer(conn, row.merged_into)
        else:
            out[row.id] = _customer(row)
    # A merge survivor is itself known: identities attached to it later point at it.
    for c in list(out.values()):
        out.setdefault(c.id, c)
    return out


async def _insert_customers(
    store: Store, conn: AsyncConnection, new: list[NewCustomer], now: datetime
) -> list[int]:
    """Insert customers, returning their ids in the same order."""
    if not new:
        return []
    rows = [
        {
            "display_name": n.display_name,
            "locale": n.locale,
            "timezone": n.timezone,
            "address": {},
            "tags": [],
            "created_at": now,
            "updated_at": now,
            "since_md": since_md(now),
        }
        for n in new
    ]
    if store.dialect == "sqlite":
        # SQLite cannot say which RETURNING row belongs to which VALUES row; the ingest
        # transaction holds the write lock (BEGIN IMMEDIATE), so ids are ours to assign.
        top = (await conn.execute(store.statement(_max_customer_id))).scalar() or 0
        ids = list(range(top + 1, top + 1 + len(rows)))
        await store.statement(_insert_customers_with_ids).run(
            conn, [{"id": i, **r} for i, r in zip(ids, rows, strict=True)]
        )
        return ids
    result = await conn.execute(store.statement(_insert_customers_returning), rows)
    return [r.id for r in result]


def _unique_addrs(addrs: object) -> list[Address]:
    seen: dict[tuple[str, str], Address] = {}
    for a in addrs:  # type: ignore[attr-defined]
        seen.setdefault((a.kind, a.value), a)
    return list(seen.values())
