"""`hub greetings preview [--date YYYY-MM-DD]`: who gets what, when and how; nothing is sent."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime

from hub.channels.directory import ChannelDirectory
from hub.config.loader import Config
from hub.connector import ConnectorRegistry
from hub.core.replies import Replies
from hub.proactive.greeting_sweep import GreetingSweeper
from hub.store import Store
from hub.store.secret import hub_secret


async def run_greetings_command(
    config: Config,
    args: argparse.Namespace,
    senders: dict[str, str],
    registry: ConnectorRegistry | None = None,
) -> int:
    try:
        on = date.fromisoformat(args.date) if args.date else datetime.now().date()
    except ValueError:
        print(f"--date must be YYYY-MM-DD, not {args.date!r}", file=sys.stderr)
        return 2
    store = Store(config.storage.url)
    try:
        await store.migrate()
        key = config.hub.secret_key
        sweeper = GreetingSweeper(
            store,
            config.greetings,
            Replies(config.replies.templates_dir, config.hub.default_locale),
            senders,
            public_url=config.web.public_url,
            secret=await hub_secret(store, key.get_secret_value() if key else None),
            signature=config.replies.signature,
            windows=ChannelDirectory.build(config.connectors, registry).window_hours()
            if registry
            else None,
        )
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
