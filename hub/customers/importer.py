"""`hub customers import FILE.csv`: contacts and purchases from CSV, validated row by row.

The file is read and checked as a whole first (size, encoding, CSV syntax, header), so a
file-level problem writes nothing. Rows are then validated and applied in batches, one
transaction each; a bad row is rejected with its line number and every reason, the good
rows are still imported. Re-running a file changes nothing: identities are unique by
(kind, value), purchases by order_ref, and values are written only when they differ.
Reading the file is hub.customers.import_file, validating its rows hub.customers.import_rows,
applying a batch of them hub.customers.import_batch; the run and its summary are here.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from tqdm import tqdm

from hub.config.loader import Config
from hub.customers.import_batch import Batch
from hub.customers.import_file import CsvFile, FileError, Reject
from hub.customers.import_rows import Row, RowParser
from hub.customers.import_state import BatchOutcome
from hub.store import Store, utcnow

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_FILE = 2

BATCH_ROWS = 500


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


# Run in each batch's transaction after its writes: what a change sets off in the layers
# above (hub.actions.customer_edit.import_effects: open tickets' SLA policies).
AfterBatch = Callable[[AsyncConnection, BatchOutcome], Awaitable[None]]


class Importer:
    def __init__(self, store: Store, config: Config, after: AfterBatch | None = None) -> None:
        self.store = store
        self.config = config
        self.after = after
        # Per customer id: (first line, bits of the set-once columns this file has set).
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

    async def _transaction(self, rows: list[Row], now: datetime) -> BatchOutcome:
        batch = Batch(self.config, self.claims, now)
        async with self.store.write() as conn:
            if self.store.dialect == "postgresql":
                # The look-ups are prepared statements; a generic plan made while the tables
                # were nearly empty (sequential scans) would be kept as they grow.
                await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
            await batch.load(conn, rows)
            for row in rows:
                batch.add(row)
            await batch.write(conn)
            if self.after is not None:
                await self.after(conn, batch.out)
        return batch.out

    def _merge(self, out: BatchOutcome, summary: Summary) -> None:
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
    store: Store,
    config: Config,
    path: str | Path,
    *,
    progress: bool = False,
    after: AfterBatch | None = None,
) -> Summary:
    """Import a file into a migrated store. Raises FileError before writing anything."""
    source = CsvFile.open(path)
    summary = Summary(source.name)
    await Importer(store, config, after).run(source, summary, progress=progress)
    return summary


async def run_import(
    config: Config, path: str, *, progress: bool, after: AfterBatch | None = None
) -> int:
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
        await Importer(store, config, after).run(source, summary, progress=progress)
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
