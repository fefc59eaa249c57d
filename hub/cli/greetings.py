"""`hub greetings preview [--date YYYY-MM-DD]`: who gets what, when and how; nothing is sent."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime

from hub.cli.common import DEFAULT_CONFIG, SubParsers, with_config
from hub.config.loader import Config
from hub.connector import ConnectorRegistry


def add_greetings_cli(sub: SubParsers, registry: ConnectorRegistry) -> None:
    p = sub.add_parser("greetings", help="birthday and anniversary greetings")
    gsub = p.add_subparsers(dest="greetings_command", required=True)
    q = gsub.add_parser(
        "preview", help="who gets what on a date, and who is skipped; sends nothing"
    )
    q.add_argument("--date", help="the customers' local date, YYYY-MM-DD (default: today)")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(
        run=lambda args: with_config(
            args.config,
            registry,
            lambda config: asyncio.run(run_greetings_command(config, args, registry)),
        )
    )


async def run_greetings_command(
    config: Config, args: argparse.Namespace, registry: ConnectorRegistry
) -> int:
    from hub.cli.sweepers import sweeper_sources
    from hub.proactive.factory import greeting_sweeper
    from hub.store import Store

    try:
        on = date.fromisoformat(args.date) if args.date else datetime.now().date()
    except ValueError:
        print(f"--date must be YYYY-MM-DD, not {args.date!r}", file=sys.stderr)
        return 2
    store = Store(config.storage.url)
    try:
        await store.migrate()
        sweeper = greeting_sweeper(await sweeper_sources(store, config, registry))
        plans = await sweeper.preview(on)
    finally:
        await store.close()
    print(f"greetings for {on.isoformat()} (each customer's own local date): {len(plans)}")
    for p in plans:
        g = p.greeting
        who = f"customer {g.key.customer_id} ({p.customer_name or 'no name'})"
        when = f"{g.send_local:%Y-%m-%d %H:%M} {g.timezone} = {g.send_at:%Y-%m-%d %H:%M} UTC"
        years = f", {g.years} years" if g.years is not None else ""
        if p.already_sent:
            how = "already sent"
        elif p.channel:
            how = f"via {p.channel} to {p.address}"
        elif p.template is not None:
            how = f"via {p.channel} to {p.address} as template {p.template.name}"
        else:
            how = f"SKIPPED: {p.reason}"
        print(f"  {who}: {g.key.occasion}{years}, {when}, {how}")
    return 0
