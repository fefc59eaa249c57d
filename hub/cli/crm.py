"""`hub crm status` (each CRM sync's backlog and failures) and `hub crm sync ID` (one
pull and push round now, as the scheduler would run it)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from hub.channels.directory import Channel, ChannelDirectory
from hub.cli.common import DEFAULT_CONFIG, SubParsers, with_config
from hub.config.loader import Config
from hub.connector import ConnectorRegistry, CrmUnavailable
from hub.store import Store


def add_crm_cli(sub: SubParsers, registry: ConnectorRegistry) -> None:
    p = sub.add_parser("crm", help="CRM sync (HubSpot, Salesforce): status, a round now")
    csub = p.add_subparsers(dest="crm_command", required=True)
    q = csub.add_parser("status", help="linked customers, the push backlog, failures")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q = csub.add_parser("sync", help="pull, then push, once")
    q.add_argument("id", help="the CRM connector's id")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(
        run=lambda args: with_config(
            args.config, registry, lambda c: asyncio.run(run_crm_command(c, registry, args))
        )
    )


async def run_crm_command(
    config: Config, registry: ConnectorRegistry, args: argparse.Namespace
) -> int:
    from hub.crm.sync import crm_channels

    channels = crm_channels(ChannelDirectory.build(config.connectors, registry).channels)
    if not channels:
        print("no CRM connectors are configured", file=sys.stderr)
        return 1
    if args.crm_command == "sync" and args.id not in channels:
        print(f"no CRM connector {args.id!r} (CRMs: {', '.join(channels)})", file=sys.stderr)
        return 1
    store = Store(config.storage.url)
    try:
        await store.migrate()
        if args.crm_command == "status":
            await _status(store, list(channels))
        else:
            await _sync(store, config, channels[args.id])
        return 0
    except CrmUnavailable as exc:
        print(f"{args.id}: the CRM could not be asked: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()


async def _status(store: Store, connector_ids: list[str]) -> None:
    from hub.crm.status import sync_status

    for cid in connector_ids:
        s = await sync_status(store, cid)
        print(
            f"{cid}: linked={s.linked} due={s.due} oldest_change={s.oldest_change} "
            f"pulled_until={s.pulled_until}"
        )
        for f in s.failing:
            when = f"{f.due_at:%Y-%m-%d %H:%M}"
            print(f"  customer {f.customer_id}: attempts={f.attempts} next={when} {f.last_error}")


async def _sync(store: Store, config: Config, channel: Channel) -> None:
    from hub.actions.customer_edit import tag_effects
    from hub.crm.parts import SyncEffects
    from hub.crm.sync import build_syncers

    effects = SyncEffects(tuple(config.alerts.notify), tag_effects(config))
    syncers = build_syncers({channel.id: channel}, store, config.hub, "cli", effects=effects)
    syncer = syncers[channel.id]
    try:
        pulled = await syncer.pull_once()
        pushed = await syncer.push_once()
    finally:
        await syncer.close()
    wait = f"; the CRM asked to wait until {pushed.paused_until}" if pushed.paused_until else ""
    print(
        f"{channel.id}: pulled seen={pulled.seen} changed={pulled.changed} "
        f"created={pulled.created}; pushed={pushed.pushed} refused={pushed.refused} "
        f"erased={pushed.erased}{wait}"
    )
