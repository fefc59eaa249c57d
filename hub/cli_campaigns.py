"""`hub campaigns preview NAME`: how many customers a campaign reaches, how, and who not."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from hub.campaign_sweep import CampaignSweeper, Preview
from hub.config import Config
from hub.greetings import load_zone
from hub.replies import Replies
from hub.secret import hub_secret
from hub.store import Store

DEFAULT_CONFIG = os.environ.get("HUB_CONFIG", "config/hub.yaml")


def add_campaigns_cli(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("campaigns", help="scheduled campaigns to customer segments")
    csub = p.add_subparsers(dest="campaigns_command", required=True)
    q = csub.add_parser(
        "preview", help="the segment's size, channels, who is skipped and why; sends nothing"
    )
    q.add_argument("name", help="the campaign's name in the config's campaigns:")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(run=run_campaigns_command)


def run_campaigns_command(args: argparse.Namespace) -> int:
    from hub.app import senders_for
    from hub.cli import _load
    from hub.connector import ConnectorRegistry

    registry = ConnectorRegistry.discover()
    config = _load(args.config, registry)
    if config is None:
        return 2
    return asyncio.run(preview_command(config, args.name, senders_for(config, registry)))


async def preview_command(config: Config, name: str, senders: dict[str, str]) -> int:
    campaign = next((c for c in config.campaigns if c.name == name), None)
    if campaign is None:
        known = ", ".join(c.name for c in config.campaigns) or "none configured"
        print(f"no campaign {name!r} (campaigns: {known})", file=sys.stderr)
        return 2
    store = Store(config.storage.url)
    try:
        await store.migrate()
        key = config.hub.secret_key
        sweeper = CampaignSweeper(
            store,
            config.campaigns,
            Replies(config.replies.templates_dir, config.hub.default_locale),
            senders,
            public_url=config.web.public_url,
            secret=await hub_secret(store, key.get_secret_value() if key else None),
            signature=config.replies.signature,
        )
        preview = await sweeper.preview(campaign)
    finally:
        await store.close()
    _print(sweeper, preview)
    return 0


def _print(sweeper: CampaignSweeper, p: Preview) -> None:
    c = p.campaign
    state = "enabled" if c.enabled else "DISABLED"
    print(
        f"campaign {c.name}: template {c.template}, {c.send_date.isoformat()} at "
        f"{c.send_hour:02d}:00 in each customer's time zone ({state})"
    )
    if not sweeper.has_template(c):
        default = sweeper.replies.default_locale
        print(f"WARNING: no template {default}/{c.template}.txt.j2: nothing would be sent")
    print(f"in segment: {p.in_segment}")
    would = sum(p.by_channel.values())
    channels = ", ".join(f"{ch}: {n}" for ch, n in sorted(p.by_channel.items()))
    print(f"would send: {would}" + (f" ({channels})" if channels else ""))
    print(f"already sent: {p.already_sent}")
    print(f"skipped: {sum(p.skipped.values())}")
    for reason, n in sorted(p.skipped.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {reason}: {n}")
    print(f"sample ({len(p.sample)}):")
    for t in p.sample:
        who = f"customer {t.customer_id} ({t.name or 'no name'}, {t.locale}, {t.timezone})"
        at = sweeper.send_at(c, t)
        if at is None:
            when = "unknown time zone"
        else:
            local = at.astimezone(load_zone(t.timezone))
            when = f"{local:%Y-%m-%d %H:%M} local = {at:%Y-%m-%d %H:%M} UTC"
        if t.already_sent:
            how = "already sent"
        elif t.channel:
            how = f"via {t.channel} to {t.address}"
        else:
            how = f"SKIPPED: {t.reason}"
        print(f"  {who}: {when}, {how}")
