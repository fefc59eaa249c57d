"""`hub customers export | erase | reapply-erasures | retention`: a person's data out, and
gone (hub.privacy)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hub.cli.common import DEFAULT_CONFIG, EXIT_CONFIG, SubParsers, with_config
from hub.config.loader import Config
from hub.connector import ConnectorRegistry
from hub.privacy.erase import Eraser
from hub.store import Store, utcnow
from hub.store.secret import hub_secret

EXIT_NOT_FOUND = 1


def add_privacy_cli(csub: SubParsers, registry: ConnectorRegistry) -> None:
    ref_help = "the customer's number, or an identity as kind:value (email:ann@example.com)"
    q = csub.add_parser("export", help="one customer's data as a JSON document")
    q.add_argument("customer", help=ref_help)
    q.add_argument("--config", default=DEFAULT_CONFIG)
    _runs(q, registry, _export)
    q = csub.add_parser(
        "erase",
        help="erase a customer from every table (audited)",
        description="Erase a customer: delete removes every row about them; anonymize keeps "
        "the rows reports count, without personal data. Running it again changes nothing.",
    )
    q.add_argument("customer", help=ref_help)
    q.add_argument("--mode", choices=("delete", "anonymize"), required=True)
    q.add_argument("--actor", default="cli", help="who asked (kept in the audit row)")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    _runs(q, registry, _erase)
    q = csub.add_parser(
        "reapply-erasures",
        help="erase again the people a restored backup brought back",
    )
    q.add_argument("--config", default=DEFAULT_CONFIG)
    _runs(q, registry, _reapply)
    q = csub.add_parser("retention", help="erase customers inactive past `retention:`")
    q.add_argument("--dry-run", action="store_true", help="only list who would go")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    _runs(q, registry, _retention)


Command = Callable[[Config, argparse.Namespace, Store], Awaitable[int]]


def _runs(parser: argparse.ArgumentParser, registry: ConnectorRegistry, command: Command) -> None:
    def run(args: argparse.Namespace) -> int:
        return with_config(
            args.config, registry, lambda c: asyncio.run(_with_store(c, args, command))
        )

    parser.set_defaults(run=run)


async def _with_store(config: Config, args: argparse.Namespace, command: Command) -> int:
    store = Store(config.storage.url)
    try:
        await store.migrate()
        return await command(config, args, store)
    finally:
        await store.close()


async def _eraser(config: Config, store: Store, actor: str) -> Eraser:
    key = config.hub.secret_key
    secret = await hub_secret(store, key.get_secret_value() if key else None)
    return Eraser(actor, secret, utcnow(), Path(config.privacy.ledger_file))


def _print(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


async def _export(config: Config, args: argparse.Namespace, store: Store) -> int:
    from hub.privacy.export import export_customer
    from hub.privacy.scope import UnknownCustomer, find_customer

    async with store.read() as conn:
        try:
            cid = await find_customer(conn, args.customer)
        except UnknownCustomer as exc:
            print(f"hub customers export: {exc}", file=sys.stderr)
            return EXIT_NOT_FOUND
        _print(await export_customer(conn, cid, utcnow()))
    return 0


async def _erase(config: Config, args: argparse.Namespace, store: Store) -> int:
    from hub.privacy.erase import erase_customer
    from hub.privacy.scope import UnknownCustomer, find_customer

    by = await _eraser(config, store, args.actor)
    async with store.write() as conn:
        try:
            cid = await find_customer(conn, args.customer)
        except UnknownCustomer as exc:
            # Erasing twice is not an error: the first run left nothing to find.
            print(f"nothing to erase: {exc}", file=sys.stderr)
            print("erased=0")
            return 0
        report = await erase_customer(conn, cid, args.mode, by)
    for table, count in sorted(report.counts.items()):
        print(f"{table}: {count}")
    print(f"erased={report.customer_id}")
    return 0


async def _reapply(config: Config, args: argparse.Namespace, store: Store) -> int:
    from hub.privacy.reapply import reapply_erasures

    reports = await reapply_erasures(store, await _eraser(config, store, "reapply-erasures"))
    for r in reports:
        print(f"customer {r.customer_id}: erased again ({r.mode})")
    print(f"reapplied={len(reports)}")
    return 0


async def _retention(config: Config, args: argparse.Namespace, store: Store) -> int:
    from hub.privacy.retention import apply_retention, inactive_customers

    if args.dry_run:
        async with store.read() as conn:
            ids = await inactive_customers(conn, config.privacy.retention.inactive_days, utcnow())
        for cid in ids:
            print(cid)
        print(f"would_erase={len(ids)}")
        return 0
    if not config.privacy.retention.enabled:
        print("retention is not enabled (privacy.retention.enabled)", file=sys.stderr)
        return EXIT_CONFIG
    by = await _eraser(config, store, "retention")
    reports = await apply_retention(store, config.privacy.retention, by)
    print(f"erased={len(reports)}")
    return 0
