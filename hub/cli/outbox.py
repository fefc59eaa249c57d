"""`hub outbox list [--dead]` and `hub outbox retry ID`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from hub.cli.common import DEFAULT_CONFIG, SubParsers, with_config
from hub.config.loader import Config
from hub.connector import ConnectorRegistry
from hub.store import Store


def add_outbox_cli(sub: SubParsers, registry: ConnectorRegistry) -> None:
    p = sub.add_parser("outbox", help="inspect and retry outgoing messages")
    osub = p.add_subparsers(dest="outbox_command", required=True)
    q = osub.add_parser("list", help="recent outgoing messages")
    q.add_argument("--dead", action="store_true", help="only dead-lettered ones")
    q.add_argument("--limit", type=int, default=50)
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q = osub.add_parser("retry", help="send a dead-lettered message again")
    q.add_argument("id", type=int)
    q.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(
        run=lambda args: with_config(
            args.config, registry, lambda c: asyncio.run(run_outbox_command(c, args))
        )
    )


async def run_outbox_command(config: Config, args: argparse.Namespace) -> int:
    from hub.outbox.entries import NoSuchEntry, list_entries, retry_entry

    if args.outbox_command == "list" and args.limit < 1:
        print("--limit must be at least 1", file=sys.stderr)
        return 2
    store = Store(config.storage.url)
    try:
        await store.migrate()
        if args.outbox_command == "list":
            entries = await list_entries(store, dead=args.dead, limit=args.limit)
            if not entries:
                print("no dead-lettered messages" if args.dead else "the outbox is empty")
            for e in entries:
                print(
                    f"{e.id:>6}  {e.status:<7} {e.connector_id:<12} {e.kind:<16} "
                    f"attempts={e.attempts} to={e.recipient} created={e.created_at:%Y-%m-%d %H:%M}"
                    + (f"\n        last error: {e.last_error}" if e.last_error else "")
                )
            return 0
        try:
            await retry_entry(store, args.id)
        except NoSuchEntry as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"outbox entry {args.id} queued for another round of attempts")
        return 0
    finally:
        await store.close()
