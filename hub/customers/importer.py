"""`hub customers import FILE.csv`: contacts and purchases from CSV, validated row by row.

The file is read and checked as a whole first (size, encoding, CSV syntax, header), so a
file-level problem writes nothing. Rows are then validated and applied in batches, one
transaction each; a bad row is rejected with its line number and every reason, the good
rows are still imported. Re-running a file changes nothing: identities are unique by
(kind, value), purchases by order_ref, and values are written only when they differ.
Reading and validating the rows is hub.customers.import_rows; applying them is here.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from tqdm import tqdm

from hub.config.loader import Config
from hub.customers.import_rows import (
    ADDRESS_COLUMNS,
    CONSENT_CHANNELS,
    CsvFile,
    FileError,
    Purchase,
    Reject,
    Row,
    RowParser,
)
from hub.customers.occasions import md_columns
from hub.messages import Address
from hub.store import Store, utcnow
from hub.store.schema import consents, customers, identities, purchases

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_FILE = 2

BATCH_ROWS = 500

# SQLite caps bound parameters per statement; look-ups go in chunks well below that.
_IN_CHUNK = 500

# Customer columns a row sets outright (tags merge instead). A file may give each of them
# only one value per customer: two different ones would make every re-run rewrite the field.
_SET_ONCE = (
    "name",
    "gender",
    "locale",
    "timezone",
    "birthday",
    "anniversary",
    *ADDRESS_COLUMNS,
    *(f"consent_{c}" for c in CONSENT_CHANNELS),
)
_BIT = {name: 1 << i for i, name in enumerate(_SET_ONCE)}
_SCALAR_COLUMNS = {
    "name": "display_name",
    "gender": "gender",
    "locale": "locale",
    "timezone": "timezone",
    "birthday": "birthday",
    "anniversary": "anniversary",
}


@dataclass
class Summary:
    path: str
    rows: int = 0
    created: set[int] = field(default_factory=set)
    updated: set[int] = field(default_factory=set)
    touched: set[int] = field(default_factory=set)
    purchases_added: int = 0
    purchases_updated: int = 0
    purchases_unchanged: int = 0
    consents_kept: int = 0
    rejects: list[Reject] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_REJECTED if self.rejects else EXIT_OK

    def report(self) -> str:
        unchanged = len(self.touched - self.created - self.updated)
        imported = self.rows - len(self.rejects)
        lines = [
            f"{self.path}: {self.rows} rows, {imported} imported, {len(self.rejects)} rejected",
            f"customers: {len(self.created)} created, {len(self.updated)} updated, "
            f"{unchanged} unchanged",
            f"purchases: {self.purchases_added} added, {self.purchases_updated} updated, "
            f"{self.purchases_unchanged} unchanged",
        ]
        if self.consents_kept:
            lines.append(
                f"consents: {self.consents_kept} not applied (a newer choice is on record)"
            )
        return "\n".join(lines)


# --- applying rows ---------------------------------------------------------------------


_FIELDS = (
    "display_name",
    "locale",
    "timezone",
    "gender",
    "birthday",
    "anniversary",
    "address",
    "tags",
)
_PURCHASE_FIELDS = ("order_ref", "amount", "currency", "purchased_at", "items")


@dataclass
class _Consent:
    status: str
    source: str
    recorded_at: datetime


@dataclass(eq=False)
class _Customer:
    """A customer as one batch sees it: loaded (or new), then changed in memory."""

    id: int | None
    values: dict[str, Any]
    consents: dict[str, _Consent]
    created_on: int | None = None
    # Which _SET_ONCE columns earlier rows of this file set, and the first such line.
    claimed: int = 0
    first_line: int = 0
    before: dict[str, Any] = field(default_factory=dict)
    new_identities: list[Address] = field(default_factory=list)
    consent_inserts: set[str] = field(default_factory=set)
    consent_updates: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        v = self.values
        self.before = {**v, "address": dict(v["address"]), "tags": list(v["tags"])}

    @property
    def label(self) -> str:
        if self.id is None:
            return f"the new customer from line {self.created_on}"
        return f"customer {self.id}"

    def current(self, col: str) -> Any:
        if col in _SCALAR_COLUMNS:
            return self.values[_SCALAR_COLUMNS[col]]
        if col.startswith("consent_"):
            c = self.consents.get(col.removeprefix("consent_"))
            return c.status if c else None
        return self.values["address"].get(col)

    def conflicts(self, row: Row) -> list[str]:
        given = {
            **row.scalars,
            **row.address,
            **{f"consent_{c}": s for c, s in row.consents.items()},
        }
        return [
            f"{col}: {value} differs from {self.current(col)}, given for the same customer "
            f"earlier in this file (its first row is line {self.first_line})"
            for col, value in given.items()
            if self.claimed & _BIT[col] and value != self.current(col)
        ]

    @property
    def changed(self) -> bool:
        return bool(
            self.values != self.before
            or self.new_identities
            or self.consent_inserts
            or self.consent_updates
        )


@dataclass(eq=False)
class _Purchase:
    id: int | None
    customer: _Customer
    values: dict[str, Any]


@dataclass
class _Outcome:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    # Insertion-ordered set: every customer a row of this batch matched or created.
    touched: dict[_Customer, None] = field(default_factory=dict)
    purchases_added: int = 0
    purchases_updated: int = 0
    purchases_unchanged: int = 0
    consents_kept: int = 0
    rejects: list[Reject] = field(default_factory=list)


class _Batch:
    """One transaction's worth of rows: load what they refer to, decide, write."""

    def __init__(self, config: Config, claims: dict[int, tuple[int, int]], now: datetime) -> None:
        self.config = config
        self.claims = claims
        self.now = now
        self.owner: dict[tuple[str, str], _Customer] = {}
        self.by_id: dict[int, _Customer] = {}
        self.purchases: dict[str, _Purchase] = {}
        self.new: list[_Customer] = []
        self.new_purchases: list[_Purchase] = []
        self.changed_purchases: list[_Purchase] = []
        self.out = _Outcome()

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
            values = {k: p._mapping[k] for k in _PURCHASE_FIELDS}
            self.purchases[p.order_ref] = _Purchase(
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
        found: dict[int, dict[str, _Consent]] = defaultdict(dict)
        for chunk in _chunks(live):
            q = select(consents).where(consents.c.customer_id.in_(chunk))
            for c in await conn.execute(q):
                found[c.customer_id][c.channel] = _Consent(c.status, c.source, c.recorded_at)
        for cid in live:
            values = {k: rows[cid]._mapping[k] for k in _FIELDS}
            values["address"] = dict(values["address"] or {})
            values["tags"] = list(values["tags"] or [])
            customer = _Customer(cid, values, found[cid])
            customer.first_line, customer.claimed = self.claims.get(cid, (0, 0))
            self.by_id[cid] = customer
        return survivor

    def add(self, row: Row) -> None:
        """Apply one row to the in-memory state, or reject it without touching anything."""
        matched: dict[int, _Customer] = {}
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
            target.values[_SCALAR_COLUMNS[col]] = value
            target.claimed |= _BIT[col]
        for col, value in row.address.items():
            target.values["address"][col] = value
            target.claimed |= _BIT[col]
        target.values["tags"].extend(t for t in row.tags if t not in target.values["tags"])
        self._consents(target, row)
        if row.purchase is not None:
            self._purchase(target, row.purchase, bought)

    def _new_customer(self, line: int) -> _Customer:
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
        customer = _Customer(None, values, {}, created_on=line)
        self.new.append(customer)
        return customer

    def _consents(self, c: _Customer, row: Row) -> None:
        recorded = row.consent_recorded_at or self.now
        for channel, status in row.consents.items():
            have = c.consents.get(channel)
            if have is not None and have.status == status:
                c.claimed |= _BIT[f"consent_{channel}"]
                continue
            if have is not None and recorded < have.recorded_at:
                # The customer chose differently since: an old export must not undo that.
                self.out.consents_kept += 1
                continue
            c.consents[channel] = _Consent(status, row.consent_source, recorded)
            c.claimed |= _BIT[f"consent_{channel}"]
            if have is None or channel in c.consent_inserts:
                c.consent_inserts.add(channel)
            else:
                c.consent_updates.add(channel)

    def _purchase(self, c: _Customer, p: Purchase, bought: _Purchase | None) -> None:
        values = {
            "order_ref": p.order_ref,
            "amount": p.amount,
            "currency": p.currency,
            "purchased_at": p.purchased_at,
            "items": p.items,
        }
        if bought is None:
            bought = _Purchase(None, c, values)
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
    return all(a[k] == b[k] for k in _PURCHASE_FIELDS)


async def _execute_many(conn: AsyncConnection, stmt: Any, params: list[dict[str, Any]]) -> None:
    if params:
        await conn.execute(stmt, params)


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), _IN_CHUNK):
        yield values[i : i + _IN_CHUNK]


# --- the run ---------------------------------------------------------------------------


class Importer:
    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        # Per customer id: (first line, bits of _SET_ONCE columns this file has set).
        self.claims: dict[int, tuple[int, int]] = {}

    async def run(self, source: CsvFile, summary: Summary, *, progress: bool) -> None:
        now = utcnow()
        parser = RowParser(self.config, f"import {Path(source.name).name}")
        show = progress and sys.stderr.isatty()
        with tqdm(
            total=source.row_count,
            unit="row",
            desc=Path(source.name).name,
            file=sys.stderr,
            disable=not show,
        ) as bar:
            batch: list[Row] = []
            for line, cells in source.rows():
                summary.rows += 1
                parsed = cells if isinstance(cells, Reject) else parser.parse(line, cells, now)
                if isinstance(parsed, Reject):
                    summary.rejects.append(parsed)
                    bar.update(1)
                    continue
                batch.append(parsed)
                if len(batch) >= BATCH_ROWS:
                    await self._apply(batch, summary, now)
                    bar.update(len(batch))
                    batch = []
            if batch:
                await self._apply(batch, summary, now)
                bar.update(len(batch))
        summary.rejects.sort(key=lambda r: r.line)

    async def _apply(self, rows: list[Row], summary: Summary, now: datetime) -> None:
        try:
            out = await self._transaction(rows, now)
        except IntegrityError:
            # Only a concurrent writer (the running hub) can cause this, as everything was
            # checked against what this transaction read; the rows are retried one by one.
            for row in rows:
                try:
                    out = await self._transaction([row], now)
                except IntegrityError as exc:
                    why = f"changed by another process meanwhile ({type(exc.orig).__name__}); retry"
                    summary.rejects.append(Reject(row.line, (why,)))
                else:
                    self._merge(out, summary)
            return
        self._merge(out, summary)

    async def _transaction(self, rows: list[Row], now: datetime) -> _Outcome:
        batch = _Batch(self.config, self.claims, now)
        async with self.store.write() as conn:
            if self.store.dialect == "postgresql":
                # The look-ups are prepared statements; a generic plan made while the tables
                # were nearly empty (sequential scans) would be kept as they grow.
                await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
            await batch.load(conn, rows)
            for row in rows:
                batch.add(row)
            await batch.write(conn)
        return batch.out

    def _merge(self, out: _Outcome, summary: Summary) -> None:
        summary.created.update(out.created)
        summary.updated.update(out.updated)
        for c in out.touched:
            assert c.id is not None
            summary.touched.add(c.id)
            self.claims[c.id] = (c.first_line, c.claimed)
        summary.purchases_added += out.purchases_added
        summary.purchases_updated += out.purchases_updated
        summary.purchases_unchanged += out.purchases_unchanged
        summary.consents_kept += out.consents_kept
        summary.rejects.extend(out.rejects)


async def import_customers(
    store: Store, config: Config, path: str | Path, *, progress: bool = False
) -> Summary:
    """Import a file into a migrated store. Raises FileError before writing anything."""
    source = CsvFile.open(path)
    summary = Summary(source.name)
    await Importer(store, config).run(source, summary, progress=progress)
    return summary


async def run_import(config: Config, path: str, *, progress: bool) -> int:
    """The CLI: rejects on stderr, the summary on stdout; returns the exit status."""
    try:
        source = CsvFile.open(path)
    except FileError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FILE
    summary = Summary(source.name)
    store = Store(config.storage.url)
    try:
        await store.migrate()
        await Importer(store, config).run(source, summary, progress=progress)
    except (OSError, SQLAlchemyError) as exc:
        _print_rejects(summary)
        print(summary.report())
        print(
            # The first line only: SQLAlchemy appends the statement and its (personal) data.
            f"{source.name}: storage error, import stopped: {str(exc).splitlines()[0]}\n"
            "Batches committed before it stay imported; running the file again is safe.",
            file=sys.stderr,
        )
        return EXIT_FILE
    finally:
        await store.close()
    _print_rejects(summary)
    print(summary.report())
    return summary.exit_code


def _print_rejects(summary: Summary) -> None:
    for r in summary.rejects:
        print(f"{summary.path}:{r.line}: rejected: " + "; ".join(r.reasons), file=sys.stderr)
