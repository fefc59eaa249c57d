"""`hub webhooks list`, `hub webhooks log ENDPOINT` and `hub webhooks redeliver ID`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from hub.cli.common import DEFAULT_CONFIG, SubParsers, with_config
from hub.config.loader import Config
from hub.connector import ConnectorRegistry
from hub.store import Store, utcnow


def add_webhooks_cli(sub: SubParsers, registry: ConnectorRegistry) -> None:
    p = sub.add_parser("webhooks", help="inspect webhook endpoints, redeliver events")
    wsub = p.add_subparsers(dest="webhooks_command", required=True)
    q = wsub.add_parser("list", help="the endpoints and their state")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q = wsub.add_parser("log", help="an endpoint's recent deliveries, newest first")
    q.add_argument("endpoint")
    q.add_argument("--limit", type=int, default=20)
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q = wsub.add_parser("redeliver", help="deliver an event again (same webhook-id)")
    q.add_argument("id", type=int, help="the delivery's id (from `hub webhooks log`)")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(
        run=lambda args: with_config(
            args.config, registry, lambda c: asyncio.run(run_webhooks_command(c, args))
        )
    )


async def run_webhooks_command(config: Config, args: argparse.Namespace) -> int:
    from hub.webhooks.endpoints import NoSuchEndpoint, get_endpoint, list_endpoints

    store = Store(config.storage.url)
    try:
        await store.migrate()
        if args.webhooks_command == "list":
            async with store.read() as conn:
                found = await list_endpoints(conn)
            if not found:
                print("no webhook endpoints")
            for e in found:
                print(
                    f"{e.id:<20} {e.status:<8} {e.source:<6} failures={e.consecutive_failures} "
                    f"events={','.join(e.events)} {e.url}"
                    + (f"\n        disabled: {e.disabled_reason}" if e.disabled_reason else "")
                )
            return 0
        if args.webhooks_command == "log":
            try:
                async with store.read() as conn:
                    await get_endpoint(conn, args.endpoint)
            except NoSuchEndpoint as exc:
                print(exc, file=sys.stderr)
                return 1
            return await _log(store, args.endpoint, args.limit)
        return await _redeliver(store, args.id)
    finally:
        await store.close()


async def _log(store: Store, endpoint_id: str, limit: int) -> int:
    from hub.webhooks.deliveries import delivery_log

    if not 1 <= limit <= 200:
        print("--limit must be between 1 and 200", file=sys.stderr)
        return 2
    async with store.read() as conn:
        entries = await delivery_log(conn, endpoint_id, limit)
    if not entries:
        print(f"no deliveries to {endpoint_id} yet")
    for d in entries:
        print(
            f"{d['id']:>6}  {d['status']:<9} {d['type'] or '(erased)':<22} "
            f"attempts={d['attempts']} last={d['last_status'] or d['last_error'] or '-'} "
            f"webhook-id={d['webhook_id']}"
        )
    return 0


async def _redeliver(store: Store, delivery_id: int) -> int:
    from hub.webhooks.deliveries import NoSuchDelivery, redeliver

    try:
        async with store.write() as conn:
            await redeliver(conn, delivery_id, utcnow())
    except NoSuchDelivery as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"webhook delivery {delivery_id} queued again (a running hub sends it within seconds)")
    return 0
