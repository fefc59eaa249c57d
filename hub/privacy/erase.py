"""Erasing a person: every row the hub wrote about them removed (delete) or stripped of
personal data with the counts kept for reports (anonymize), in one transaction.

Which rows is declared per table in hub.privacy.tables. Rows of other customers stay: a
shared conversation's ticket passes to another participant, and only the person's own
messages leave it. Foreign keys never fail: references from rows that stay are set to NULL
before the rows they point at go. Idempotent: erasing again finds nothing more to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Table, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.outgoing import CUSTOMER_ERASED, OutgoingEvent, emit
from hub.privacy.ledger import record_in_ledger
from hub.privacy.scope import Person, person_of
from hub.privacy.scrub import scrub_channel_posts, scrub_quarantine
from hub.privacy.tables import RULES
from hub.store.schema import (
    customers,
    erasure_audit,
    messages,
    metadata,
    outbox,
    purchases,
    tickets,
)

Mode = Literal["delete", "anonymize"]
ERASED = "[erased]"


@dataclass(frozen=True)
class Eraser:
    """Who erases, with what: the audit's actor, the hub's secret (ledger keys), the time,
    and the ledger file kept beside the database."""

    actor: str
    secret: bytes
    now: datetime
    ledger_file: Path | None = None


@dataclass(frozen=True)
class ErasureReport:
    customer_id: int
    mode: Mode
    counts: dict[str, int]


async def erase_customer(
    conn: AsyncConnection, customer_id: int, mode: Mode, by: Eraser
) -> ErasureReport:
    """Erase the person whose (surviving) record is `customer_id`, in the caller's
    transaction. The audit row names the actor and counts rows per table, nothing else."""
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        # What the erasure deletes is overwritten with zeros, not left in free pages of the
        # file. Only here: on every connection it cost a quarter of the ingest's speed.
        await conn.exec_driver_sql("PRAGMA secure_delete=ON")
    try:
        return await _erase(conn, customer_id, mode, by)
    finally:
        if sqlite:
            await conn.exec_driver_sql("PRAGMA secure_delete=OFF")


async def _erase(conn: AsyncConnection, customer_id: int, mode: Mode, by: Eraser) -> ErasureReport:
    person = await person_of(conn, customer_id)
    now = by.now
    counts: dict[str, int] = {}
    counts["erasure_ledger"] = await record_in_ledger(
        conn, person.identities, mode, by.secret, now, by.ledger_file
    )
    counts["outbox"] = await _erase_outbox(conn, person)
    counts["outbox (posts scrubbed)"] = await scrub_channel_posts(conn, _terms(person))
    counts["quarantine"] = await scrub_quarantine(conn, _terms(person))
    for name, rule in RULES.items():
        if rule.scope in ("message", "ticket"):
            keys = person.messages if rule.scope == "message" else person.own_tickets
            counts[name] = await _apply(conn, name, rule.columns, keys, mode, rule.anonymize)
    counts["messages"] = await _erase_messages(conn, person, mode)
    counts["tickets"] = await _erase_tickets(conn, person, mode)
    for name, rule in RULES.items():
        if rule.scope == "customer":
            counts[name] = await _apply(
                conn, name, rule.columns, person.customer_ids, mode, rule.anonymize
            )
    if mode == "anonymize":
        counts["purchases (refs)"] = await _rename_order_refs(conn, person)
    counts["customers"] = await _erase_customers(conn, person, mode, now)
    # No personal data in the event: receivers (CRMs) erase by the id they were given.
    await emit(
        conn,
        [OutgoingEvent(CUSTOMER_ERASED, {"customer_id": customer_id, "mode": mode}, customer_id)],
        now,
    )
    counts = {k: v for k, v in counts.items() if v}
    await conn.execute(
        erasure_audit.insert().values(
            customer_id=customer_id, actor=by.actor, mode=mode, counts=counts, created_at=now
        )
    )
    return ErasureReport(customer_id, mode, counts)


def _terms(person: Person) -> list[str]:
    """Strings that identify the person in free text (posts to team channels, raw input).
    Short ones (under 5 characters) would match other people's text, so they are left."""
    values = [v for _k, v in person.identities] + list(person.display_names)
    return sorted({v for v in values if len(v) >= 5}, key=len, reverse=True)


def _table(name: str) -> Table:
    return metadata.tables[name]


async def _delete(conn: AsyncConnection, table: Table, ids: list[int]) -> int:
    """Delete rows by id, references to them from rows that stay set to NULL first."""
    if not ids:
        return 0
    await _detach(conn, table, ids)
    return (await conn.execute(delete(table).where(table.c.id.in_(ids)))).rowcount or 0


async def _detach(conn: AsyncConnection, target: Table, ids: list[int]) -> None:
    """NULL every nullable reference to rows of `target` about to go, from rows that stay."""
    if not ids:
        return
    for table in metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is target and fk.parent.nullable and table is not target:
                await conn.execute(
                    update(table).where(fk.parent.in_(ids)).values({fk.parent.name: None})
                )


async def _apply(
    conn: AsyncConnection,
    name: str,
    columns: tuple[str, ...],
    keys: tuple[int, ...],
    mode: Mode,
    anonymize: dict[str, object] | None,
) -> int:
    if not keys:
        return 0
    table = _table(name)
    where = or_(*(table.c[c].in_(keys) for c in columns))
    if mode == "anonymize" and anonymize is not None:
        if not anonymize:
            return 0
        return (await conn.execute(update(table).where(where).values(anonymize))).rowcount or 0
    if "id" in table.c:
        ids = [int(i) for i in (await conn.execute(select(table.c.id).where(where))).scalars()]
        await _detach(conn, table, ids)
    return (await conn.execute(delete(table).where(where))).rowcount or 0


async def _erase_outbox(conn: AsyncConnection, person: Person) -> int:
    where = or_(
        outbox.c.customer_id.in_(person.customer_ids),
        outbox.c.ticket_id.in_(person.own_tickets),
        outbox.c.message_id.in_(person.messages),
        outbox.c.recipient.in_([v for _k, v in person.identities]),
    )
    ids = [int(i) for i in (await conn.execute(select(outbox.c.id).where(where))).scalars()]
    return await _delete(conn, outbox, ids)


async def _erase_messages(conn: AsyncConnection, person: Person, mode: Mode) -> int:
    ids = list(person.messages)
    if not ids:
        return 0
    if mode == "anonymize":
        values: dict[str, Any] = {
            "body_text": ERASED,
            "body_html": None,
            "subject": None,
            "sender": None,
            "meta": {},
            "request_hash": None,
        }
        stmt = update(messages).where(messages.c.id.in_(ids)).values(values)
        return (await conn.execute(stmt)).rowcount or 0
    return await _delete(conn, messages, ids)


async def _erase_tickets(conn: AsyncConnection, person: Person, mode: Mode) -> int:
    done = 0
    # A shared conversation's ticket stays with the conversation: it passes to another
    # participant, and loses its subject (the person may have written it).
    for ticket_id in person.shared_tickets:
        heir = (
            await conn.execute(
                select(messages.c.customer_id)
                .where(
                    messages.c.ticket_id == ticket_id,
                    messages.c.direction == "in",
                    messages.c.customer_id.not_in(person.customer_ids),
                )
                .order_by(messages.c.id)
                .limit(1)
            )
        ).scalar_one()
        await conn.execute(
            update(tickets).where(tickets.c.id == ticket_id).values(customer_id=heir, subject=None)
        )
        done += 1
    own = list(person.own_tickets)
    if not own:
        return done
    if mode == "anonymize":
        stmt = update(tickets).where(tickets.c.id.in_(own)).values(subject=None)
        return done + ((await conn.execute(stmt)).rowcount or 0)
    return done + await _delete(conn, tickets, own)


async def _rename_order_refs(conn: AsyncConnection, person: Person) -> int:
    rows = (
        await conn.execute(
            select(purchases.c.id, purchases.c.order_ref).where(
                purchases.c.customer_id.in_(person.customer_ids)
            )
        )
    ).all()
    changed = 0
    for row in rows:
        if not row.order_ref.startswith("erased-"):
            await conn.execute(
                update(purchases)
                .where(purchases.c.id == row.id)
                .values(order_ref=f"erased-{row.id}")
            )
            changed += 1
    return changed


async def _erase_customers(conn: AsyncConnection, person: Person, mode: Mode, now: datetime) -> int:
    ids = list(person.customer_ids)
    if mode == "anonymize":
        values: dict[str, Any] = {
            "display_name": None,
            "gender": None,
            "birthday": None,
            "anniversary": None,
            "address": {},
            "birthday_md": None,
            "anniversary_md": None,
            "updated_at": now,
            "erased_at": now,
        }
        stmt = (
            update(customers)
            .where(customers.c.id.in_(ids), customers.c.erased_at.is_(None))
            .values(values)
        )
        return (await conn.execute(stmt)).rowcount or 0
    await conn.execute(update(customers).where(customers.c.id.in_(ids)).values(merged_into=None))
    return await _delete(conn, customers, ids)
