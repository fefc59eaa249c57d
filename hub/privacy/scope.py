"""Whose rows an erasure or an export touches: the person's customer records (the one named
and every record merged into it), their tickets, their messages."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.core.identity import normalize_email, normalize_phone
from hub.store.schema import customers, identities, messages, tickets


class UnknownCustomer(LookupError):
    """No customer matches the reference given."""


@dataclass(frozen=True)
class Person:
    customer_id: int  # the record named (a survivor of merges)
    customer_ids: tuple[int, ...]  # it and every record merged into it
    display_names: tuple[str, ...]
    identities: tuple[tuple[str, str], ...]  # (kind, value)
    own_tickets: tuple[int, ...]  # theirs alone
    shared_tickets: tuple[int, ...]  # theirs by customer_id, but others wrote there too
    messages: tuple[int, ...]  # their messages, and every message of their own tickets


def normalized_identity(kind: str, value: str) -> str:
    """An identity as the identities table stores it (for refs and the ledger)."""
    if kind == "email":
        return normalize_email(value) or value.strip().lower()
    if kind == "phone":
        return normalize_phone(value, "ZZ") or value.strip()
    return value.strip()


async def find_customer(conn: AsyncConnection, ref: str) -> int:
    """A customer number, or an identity as `kind:value` (email:ann@example.com)."""
    ref = ref.strip()
    if ref.isascii() and ref.isdigit():
        found = (
            await conn.execute(select(customers.c.id).where(customers.c.id == int(ref)))
        ).scalar()
    else:
        kind, sep, value = ref.partition(":")
        if not sep or not value:
            raise UnknownCustomer(f"{ref!r} is neither a customer number nor kind:value")
        found = (
            await conn.execute(
                select(identities.c.customer_id).where(
                    identities.c.kind == kind,
                    identities.c.value == normalized_identity(kind, value),
                )
            )
        ).scalar()
    if found is None:
        raise UnknownCustomer(f"no customer {ref!r}")
    # A merged record's data lives with its survivor: the person is the survivor.
    while True:
        into = (
            await conn.execute(select(customers.c.merged_into).where(customers.c.id == found))
        ).scalar()
        if into is None:
            return int(found)
        found = into


async def person_of(conn: AsyncConnection, customer_id: int) -> Person:
    ids = [customer_id]
    frontier = [customer_id]
    while frontier:
        merged = (
            await conn.execute(select(customers.c.id).where(customers.c.merged_into.in_(frontier)))
        ).scalars()
        frontier = [int(i) for i in merged if i not in ids]
        ids += frontier
    names = (
        await conn.execute(select(customers.c.display_name).where(customers.c.id.in_(ids)))
    ).scalars()
    idents = (
        await conn.execute(
            select(identities.c.kind, identities.c.value, identities.c.display_name).where(
                identities.c.customer_id.in_(ids)
            )
        )
    ).all()
    ticket_ids = [
        int(t)
        for t in (
            await conn.execute(select(tickets.c.id).where(tickets.c.customer_id.in_(ids)))
        ).scalars()
    ]
    shared = {
        int(t)
        for t in (
            await conn.execute(
                select(messages.c.ticket_id)
                .where(
                    messages.c.ticket_id.in_(ticket_ids),
                    messages.c.direction == "in",
                    messages.c.customer_id.not_in(ids),
                )
                .distinct()
            )
        ).scalars()
    }
    own = [t for t in ticket_ids if t not in shared]
    message_ids = (
        await conn.execute(
            select(messages.c.id).where(
                # What they wrote anywhere, everything on their own tickets, and what was
                # sent to them alone; a shared conversation's replies stay with it.
                ((messages.c.direction == "in") & messages.c.customer_id.in_(ids))
                | messages.c.ticket_id.in_(own)
                | (
                    (messages.c.direction == "out")
                    & messages.c.customer_id.in_(ids)
                    & (messages.c.ticket_id.is_(None) | messages.c.ticket_id.not_in(shared))
                )
            )
        )
    ).scalars()
    all_names = {n for n in names if n} | {i.display_name for i in idents if i.display_name}
    return Person(
        customer_id=customer_id,
        customer_ids=tuple(ids),
        display_names=tuple(sorted(all_names)),
        identities=tuple((i.kind, i.value) for i in idents),
        own_tickets=tuple(own),
        shared_tickets=tuple(sorted(shared)),
        messages=tuple(int(m) for m in message_ids),
    )
