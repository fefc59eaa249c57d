"""Merging two customer records, and undoing it exactly.

A merge moves everything of the merged customer to the survivor (identities, tickets, their
messages, purchases, outbox rows, greeting and campaign history, consents the survivor
lacks) and points the merged record at the survivor. What moved is recorded by row id, with
who did it, so an undo puts back exactly those rows; anything that arrived for the survivor
since stays.
People merge; the hub itself merges only exact matches, and only when configured
(hub.dedup.sweep, `duplicates.auto_merge`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.customers.change_events import customer_merged, customer_updated
from hub.events.outgoing import emit
from hub.store import utcnow
from hub.store.schema import (
    campaign_sends,
    consents,
    customer_merges,
    customers,
    duplicate_suggestions,
    greeting_sends,
    identities,
    messages,
    outbox,
    purchases,
    tickets,
)
from hub.tickets.records import open_key

# Tables whose rows simply follow the customer, by primary key `id`.
_FOLLOW = {
    "identities": identities,
    "tickets": tickets,
    "messages": messages,
    "purchases": purchases,
    "outbox": outbox,
}

# Once-only send records: they follow the customer unless the survivor has the same one.
_HISTORY: dict[str, tuple[Table, tuple[str, ...]]] = {
    "greeting_sends": (greeting_sends, ("occasion", "year")),
    "campaign_sends": (campaign_sends, ("campaign",)),
}


class MergeRefused(ValueError):
    """The merge or undo cannot be done; the message says why."""


@dataclass(frozen=True)
class Merge:
    id: int
    survivor_id: int
    merged_id: int


async def merge_customers(
    conn: AsyncConnection, survivor_id: int, merged_id: int, by: str
) -> Merge:
    """Move `merged_id`'s records onto `survivor_id`, in the caller's transaction."""
    if survivor_id == merged_id:
        raise MergeRefused("a customer cannot be merged into itself")
    rows = {
        r.id: r
        for r in await conn.execute(
            select(customers.c.id, customers.c.merged_into).where(
                customers.c.id.in_([survivor_id, merged_id])
            )
        )
    }
    if len(rows) != 2:
        raise MergeRefused("no such customer")
    if any(r.merged_into is not None for r in rows.values()):
        raise MergeRefused("one of them was already merged into another customer")
    moved: dict[str, Any] = {}
    for name, table in _FOLLOW.items():
        ids = [
            r.id
            for r in await conn.execute(select(table.c.id).where(table.c.customer_id == merged_id))
        ]
        if ids:
            await conn.execute(
                update(table).where(table.c.id.in_(ids)).values(customer_id=survivor_id)
            )
        moved[name] = ids
    moved["open_keys"] = await _rekey_open_tickets(conn, moved["tickets"], survivor_id)
    for name, (table, keys) in _HISTORY.items():
        moved[name] = await _move_unless_taken(conn, table, keys, survivor_id, merged_id)
    moved["consents"] = await _move_consents(conn, survivor_id, merged_id)
    pair = or_(
        and_(
            duplicate_suggestions.c.customer_id == survivor_id,
            duplicate_suggestions.c.other_customer_id == merged_id,
        ),
        and_(
            duplicate_suggestions.c.customer_id == merged_id,
            duplicate_suggestions.c.other_customer_id == survivor_id,
        ),
    )
    suggestions = await conn.execute(
        select(duplicate_suggestions.c.id, duplicate_suggestions.c.status).where(pair)
    )
    moved["suggestions"] = {str(r.id): r.status for r in suggestions}
    await conn.execute(update(duplicate_suggestions).where(pair).values(status="merged"))
    await conn.execute(
        update(customers).where(customers.c.id == merged_id).values(merged_into=survivor_id)
    )
    now = utcnow()
    merge_id = (
        await conn.execute(
            customer_merges.insert()
            .values(
                survivor_id=survivor_id,
                merged_id=merged_id,
                merged_by=by,
                merged_at=now,
                moved=moved,
            )
            .returning(customer_merges.c.id)
        )
    ).scalar_one()
    await emit(conn, customer_merged(survivor_id, merged_id, int(merge_id)), now)
    return Merge(int(merge_id), survivor_id, merged_id)


async def _rekey_open_tickets(
    conn: AsyncConnection, ticket_ids: list[int], survivor_id: int
) -> dict[str, str]:
    """Open tickets take the survivor's open key, so new messages thread onto them; where
    the survivor has an open ticket on that channel already, the moved one keeps its key."""
    old: dict[str, str] = {}
    if not ticket_ids:
        return old
    rows = await conn.execute(
        select(tickets.c.id, tickets.c.channel, tickets.c.open_key).where(
            tickets.c.id.in_(ticket_ids),
            tickets.c.open_key.is_not(None),
            # A shared conversation's key is the conversation's, not the customer's.
            tickets.c.conversation.is_(None),
        )
    )
    for r in rows.all():
        key = open_key(survivor_id, r.channel)
        taken = (await conn.execute(select(tickets.c.id).where(tickets.c.open_key == key))).first()
        if taken is None:
            await conn.execute(update(tickets).where(tickets.c.id == r.id).values(open_key=key))
            old[str(r.id)] = r.open_key
    return old


async def _move_unless_taken(
    conn: AsyncConnection, table: Table, keys: tuple[str, ...], survivor_id: int, merged_id: int
) -> list[int]:
    """Send history moves, except what the survivor already has (it stays unique)."""
    cols = [table.c[k] for k in keys]
    have = {
        tuple(r)
        for r in await conn.execute(select(*cols).where(table.c.customer_id == survivor_id))
    }
    ids = [
        r[0]
        for r in await conn.execute(
            select(table.c.id, *cols).where(table.c.customer_id == merged_id)
        )
        if tuple(r[1:]) not in have
    ]
    if ids:
        await conn.execute(update(table).where(table.c.id.in_(ids)).values(customer_id=survivor_id))
    return ids


async def _move_consents(conn: AsyncConnection, survivor_id: int, merged_id: int) -> list[str]:
    """The survivor's own consent wins on a channel both have; the other channels move."""
    have = {
        c
        for (c,) in await conn.execute(
            select(consents.c.channel).where(consents.c.customer_id == survivor_id)
        )
    }
    channels = [
        c
        for (c,) in await conn.execute(
            select(consents.c.channel).where(consents.c.customer_id == merged_id)
        )
        if c not in have
    ]
    if channels:
        await conn.execute(
            update(consents)
            .where(consents.c.customer_id == merged_id, consents.c.channel.in_(channels))
            .values(customer_id=survivor_id)
        )
    return channels


async def find_merge(conn: AsyncConnection, merge_id: int) -> Any | None:
    return (
        await conn.execute(select(customer_merges).where(customer_merges.c.id == merge_id))
    ).first()


async def undo_merge(conn: AsyncConnection, merge_id: int, by: str) -> Merge:
    row = (
        await conn.execute(select(customer_merges).where(customer_merges.c.id == merge_id))
    ).first()
    if row is None:
        raise MergeRefused("no such merge")
    if row.undone_at is not None:
        raise MergeRefused("this merge was undone already")
    involved = [row.survivor_id, row.merged_id]
    later = (
        await conn.execute(
            select(customer_merges.c.id).where(
                customer_merges.c.id > merge_id,
                customer_merges.c.undone_at.is_(None),
                or_(
                    customer_merges.c.survivor_id.in_(involved),
                    customer_merges.c.merged_id.in_(involved),
                ),
            )
        )
    ).first()
    if later is not None:
        raise MergeRefused(f"undo the later merge {later.id} of these customers first")
    moved = row.moved
    back = row.merged_id
    for name, table in _FOLLOW.items():
        if ids := moved.get(name):
            await conn.execute(update(table).where(table.c.id.in_(ids)).values(customer_id=back))
    if ticket_ids := moved.get("tickets"):
        # Messages that reached a moved ticket after the merge go back with their ticket.
        await conn.execute(
            update(messages)
            .where(messages.c.ticket_id.in_(ticket_ids), messages.c.customer_id == row.survivor_id)
            .values(customer_id=back)
        )
    for ticket_id, key in moved.get("open_keys", {}).items():
        await conn.execute(
            update(tickets).where(tickets.c.id == int(ticket_id)).values(open_key=key)
        )
    for name, (table, _) in _HISTORY.items():
        if ids := moved.get(name):
            await conn.execute(update(table).where(table.c.id.in_(ids)).values(customer_id=back))
    if channels := moved.get("consents"):
        await conn.execute(
            update(consents)
            .where(consents.c.customer_id == row.survivor_id, consents.c.channel.in_(channels))
            .values(customer_id=back)
        )
    for suggestion_id, status in moved.get("suggestions", {}).items():
        await conn.execute(
            update(duplicate_suggestions)
            .where(duplicate_suggestions.c.id == int(suggestion_id))
            .values(status=status)
        )
    await conn.execute(update(customers).where(customers.c.id == back).values(merged_into=None))
    now = utcnow()
    await conn.execute(
        update(customer_merges)
        .where(customer_merges.c.id == merge_id)
        .values(undone_at=now, undone_by=by)
    )
    # The merge is undone: both records changed (what moved went back).
    await emit(
        conn,
        [
            customer_updated(row.survivor_id, ["merge_undone"], "api"),
            customer_updated(back, ["merged_into"], "api"),
        ],
        now,
    )
    return Merge(merge_id, row.survivor_id, back)
