"""One transaction of a customer import: load what its rows refer to, apply each row in
memory (or reject it), then write what changed in a few statements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.loader import Config
from hub.customers.change_events import customer_created, customer_updated
from hub.customers.import_file import Reject
from hub.customers.import_rows import Purchase, Row
from hub.customers.import_state import (
    CLAIM_BIT,
    CUSTOMER_FIELDS,
    PURCHASE_FIELDS,
    SCALAR_COLUMNS,
    BatchConsent,
    BatchCustomer,
    BatchOutcome,
    BatchPurchase,
)
from hub.customers.occasions import md_columns
from hub.events.outgoing import emit
from hub.store.schema import consents, customers, identities, purchases

# SQLite caps bound parameters per statement; look-ups go in chunks well below that.
_IN_CHUNK = 500


class Batch:
    """One transaction's worth of rows: load what they refer to, decide, write."""

    def __init__(self, config: Config, claims: dict[int, tuple[int, int]], now: datetime) -> None:
        self.config = config
        self.claims = claims
        self.now = now
        self.owner: dict[tuple[str, str], BatchCustomer] = {}
        self.by_id: dict[int, BatchCustomer] = {}
        self.purchases: dict[str, BatchPurchase] = {}
        self.new: list[BatchCustomer] = []
        self.new_purchases: list[BatchPurchase] = []
        self.changed_purchases: list[BatchPurchase] = []
        self.out = BatchOutcome()

    async def load(self, conn: AsyncConnection, rows: Sequence[Row]) -> None:
        by_kind: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            for a in row.identities:
                by_kind[a.kind].add(a.value)
        owner_ids: dict[tuple[str, str], int] = {}
        for kind, values in by_kind.items():
            for chunk in _chunks(sorted(values)):
                q = select(identities.c.value, identities.c.customer_id).where(
                    identities.c.kind == kind, identities.c.value.in_(chunk)
                )
                for value, customer_id in await conn.execute(q):
                    owner_ids[(kind, value)] = customer_id
        refs = sorted({r.purchase.order_ref for r in rows if r.purchase})
        bought = []
        for chunk in _chunks(refs):
            q = select(purchases).where(purchases.c.order_ref.in_(chunk))
            bought.extend(await conn.execute(q))
        survivor = await self._load_customers(
            conn, set(owner_ids.values()) | {p.customer_id for p in bought}
        )
        self.owner = {key: self.by_id[survivor[cid]] for key, cid in owner_ids.items()}
        for p in bought:
            values = {k: p._mapping[k] for k in PURCHASE_FIELDS}
            self.purchases[p.order_ref] = BatchPurchase(
                p.id, self.by_id[survivor[p.customer_id]], values
            )

    async def _load_customers(self, conn: AsyncConnection, ids: set[int]) -> dict[int, int]:
        """Loads these customers, following merges; returns each id's surviving id."""
        merged_into: dict[int, int | None] = {}
        rows = {}
        todo = ids
        while todo:
            for chunk in _chunks(sorted(todo)):
                for r in await conn.execute(select(customers).where(customers.c.id.in_(chunk))):
                    merged_into[r.id] = r.merged_into
                    rows[r.id] = r
            todo = {m for m in merged_into.values() if m is not None and m not in merged_into}
        survivor = {}
        for cid in merged_into:
            s = cid
            while merged_into[s] is not None:
                s = merged_into[s]  # type: ignore[assignment]
            survivor[cid] = s
        live = sorted({s for s in survivor.values()})
        found: dict[int, dict[str, BatchConsent]] = defaultdict(dict)
        for chunk in _chunks(live):
            q = select(consents).where(consents.c.customer_id.in_(chunk))
            for c in await conn.execute(q):
                found[c.customer_id][c.channel] = BatchConsent(c.status, c.source, c.recorded_at)
        for cid in live:
            values = {k: rows[cid]._mapping[k] for k in CUSTOMER_FIELDS}
            values["address"] = dict(values["address"] or {})
            values["tags"] = list(values["tags"] or [])
            customer = BatchCustomer(cid, values, found[cid])
            customer.first_line, customer.claimed = self.claims.get(cid, (0, 0))
            self.by_id[cid] = customer
        return survivor

    def add(self, row: Row) -> None:
        """Apply one row to the in-memory state, or reject it without touching anything."""
        matched: dict[int, BatchCustomer] = {}
        pairs = []
        for a in row.identities:
            if (owner := self.owner.get((a.kind, a.value))) is not None:
                matched.setdefault(id(owner), owner)
                pairs.append((a, owner))
        if len(matched) > 1:
            shown = ", ".join(f"{a.kind} {a.value} belongs to {c.label}" for a, c in pairs)
            reason = f"identities of different customers ({shown}); the import does not merge"
            self.out.rejects.append(Reject(row.line, (reason,)))
            return
        target = next(iter(matched.values()), None)
        why = target.conflicts(row) if target is not None else []
        bought = self.purchases.get(row.purchase.order_ref) if row.purchase else None
        if bought is not None and bought.customer is not target:
            why.append(
                f"order_ref: {bought.values['order_ref']!r} is recorded for "
                f"{bought.customer.label}, whom none of this row's identities belong to"
            )
        if why:
            self.out.rejects.append(Reject(row.line, tuple(why)))
            return
        self._apply(row, target, bought)

    def _apply(self, row: Row, target: BatchCustomer | None, bought: BatchPurchase | None) -> None:
        """A row that passed every check: onto its customer, a new one when none matched."""
        if target is None:
            target = self._new_customer(row.line)
        if not target.first_line:
            target.first_line = row.line
        self.out.touched[target] = None
        for a in row.identities:
            if (a.kind, a.value) not in self.owner:
                self.owner[(a.kind, a.value)] = target
                target.new_identities.append(a)
        for col, value in row.scalars.items():
            target.values[SCALAR_COLUMNS[col]] = value
            target.claimed |= CLAIM_BIT[col]
        for col, value in row.address.items():
            target.values["address"][col] = value
            target.claimed |= CLAIM_BIT[col]
        target.values["tags"].extend(t for t in row.tags if t not in target.values["tags"])
        self._consents(target, row)
        if row.purchase is not None:
            self._purchase(target, row.purchase, bought)

    def _new_customer(self, line: int) -> BatchCustomer:
        values = {
            "display_name": None,
            "locale": self.config.hub.default_locale,
            "timezone": self.config.hub.timezone,
            "gender": None,
            "birthday": None,
            "anniversary": None,
            "address": {},
            "tags": [],
        }
        customer = BatchCustomer(None, values, {}, created_on=line)
        self.new.append(customer)
        return customer

    def _consents(self, c: BatchCustomer, row: Row) -> None:
        recorded = row.consent_recorded_at or self.now
        for channel, status in row.consents.items():
            have = c.consents.get(channel)
            if have is not None and have.status == status:
                c.claimed |= CLAIM_BIT[f"consent_{channel}"]
                continue
            if have is not None and recorded < have.recorded_at:
                # The customer chose differently since: an old export must not undo that.
                self.out.consents_kept += 1
                continue
            c.consents[channel] = BatchConsent(status, row.consent_source, recorded)
            c.claimed |= CLAIM_BIT[f"consent_{channel}"]
            if have is None or channel in c.consent_inserts:
                c.consent_inserts.add(channel)
            else:
                c.consent_updates.add(channel)

    def _purchase(self, c: BatchCustomer, p: Purchase, bought: BatchPurchase | None) -> None:
        values = {
            "order_ref": p.order_ref,
            "amount": p.amount,
            "currency": p.currency,
            "purchased_at": p.purchased_at,
            "items": p.items,
        }
        if bought is None:
            bought = BatchPurchase(None, c, values)
            self.purchases[p.order_ref] = bought
            self.new_purchases.append(bought)
            self.out.purchases_added += 1
        elif _same_purchase(bought.values, values):
            self.out.purchases_unchanged += 1
        else:
            bought.values = values
            self.changed_purchases.append(bought)
            self.out.purchases_updated += 1

    async def write(self, conn: AsyncConnection) -> None:
        now = self.now
        if self.new:
            stmt = customers.insert().returning(customers.c.id, sort_by_parameter_order=True)
            params = [
                md_columns({**c.values, "created_at": now, "updated_at": now}) for c in self.new
            ]
            for c, cid in zip(self.new, (await conn.execute(stmt, params)).scalars(), strict=True):
                c.id = cid
                self.out.created.append(cid)
        touched = self.out.touched
        await _execute_many(
            conn,
            identities.insert(),
            [
                {
                    "customer_id": c.id,
                    "kind": a.kind,
                    "value": a.value,
                    "display_name": a.display_name,
                    "unreachable": False,
                    "created_at": now,
                }
                for c in touched
                for a in c.new_identities
            ],
        )
        changed = [c for c in touched if c.created_on is None and c.changed]
        self.out.updated.extend(c.id for c in changed)  # type: ignore[misc]
        for c in changed:
            before, after = sorted(c.before["tags"]), sorted(c.values["tags"])
            if before != after:
                self.out.tag_changes[c.id] = (before, after)  # type: ignore[index]
        await emit(
            conn,
            [customer_created(c.id, "import") for c in self.new]  # type: ignore[arg-type]
            + [customer_updated(c.id, c.values, "import") for c in changed],  # type: ignore[arg-type]
            now,
        )
        await _execute_many(
            conn,
            update(customers).where(customers.c.id == bindparam("b_id")),
            [md_columns({"b_id": c.id, **c.values, "updated_at": now}) for c in changed],
        )
        await _execute_many(
            conn,
            purchases.insert(),
            [
                {**p.values, "customer_id": p.customer.id, "created_at": now}
                for p in self.new_purchases
            ],
        )
        await _execute_many(
            conn,
            update(purchases).where(purchases.c.id == bindparam("b_id")),
            [{"b_id": p.id, **p.values} for p in self.changed_purchases],
        )
        await _execute_many(
            conn,
            consents.insert(),
            [
                {"customer_id": c.id, "channel": ch, **vars(c.consents[ch])}
                for c in touched
                for ch in sorted(c.consent_inserts)
            ],
        )
        await _execute_many(
            conn,
            update(consents).where(
                consents.c.customer_id == bindparam("b_id"),
                consents.c.channel == bindparam("b_channel"),
            ),
            [
                {"b_id": c.id, "b_channel": ch, **vars(c.consents[ch])}
                for c in touched
                for ch in sorted(c.consent_updates)
            ],
        )


def _same_purchase(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a[k] == b[k] for k in PURCHASE_FIELDS)


async def _execute_many(conn: AsyncConnection, stmt: Any, params: list[dict[str, Any]]) -> None:
    if params:
        await conn.execute(stmt, params)


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), _IN_CHUNK):
        yield values[i : i + _IN_CHUNK]
