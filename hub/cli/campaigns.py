"""`hub campaigns preview NAME | create NAME … | list`: campaigns besides the config file's."""

from __future__ import annotations

import argparse
import asyncio
import sys

from pydantic import ValidationError

from hub.cli.common import DEFAULT_CONFIG, SubParsers, with_config
from hub.cli.sweepers import sweeper_sources
from hub.config.campaigns import CampaignConfig
from hub.config.loader import Config
from hub.connector import ConnectorRegistry
from hub.core.replies import Replies
from hub.proactive.campaign_store import CampaignExists, campaigns_in_effect, create_campaign
from hub.proactive.campaign_sweep import CampaignSweeper, Preview
from hub.proactive.factory import campaign_sweeper
from hub.proactive.greetings import load_zone
from hub.store import Store


def add_campaigns_cli(sub: SubParsers, registry: ConnectorRegistry) -> None:
    p = sub.add_parser("campaigns", help="scheduled campaigns to customer segments")
    csub = p.add_subparsers(dest="campaigns_command", required=True)
    q = csub.add_parser(
        "preview", help="the segment's size, channels, who is skipped and why; sends nothing"
    )
    q.add_argument("name", help="the campaign's name (config file or created by CLI)")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q = csub.add_parser("create", help="create a campaign in the database (config names win)")
    q.add_argument("name")
    q.add_argument("--template", required=True, help="templates/<locale>/<TEMPLATE>.txt.j2")
    q.add_argument("--date", required=True, help="local send date, YYYY-MM-DD")
    q.add_argument("--hour", type=int, default=10, help="local send hour, 0-23 (default 10)")
    q.add_argument("--channel", action="append", help="channel order; repeat (default email)")
    q.add_argument("--tag", action="append", default=[], help="customers with all these tags")
    q.add_argument("--locale")
    q.add_argument("--country", help="ISO 3166 code of the customer's address")
    q.add_argument("--purchased-after", help="a purchase on or after this UTC date")
    q.add_argument("--purchased-before", help="a purchase before this UTC date")
    q.add_argument("--purchase-above", help="a purchase of more than this amount")
    q.add_argument("--open-ticket", choices=["yes", "no"])
    q.add_argument("--catch-up-hours", type=float, default=12.0)
    q.add_argument("--param", action="append", default=[], help="KEY=VALUE for the template")
    q.add_argument("--disabled", action="store_true", help="create it switched off")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q = csub.add_parser("list", help="campaigns from the config file and the database")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(
        run=lambda args: with_config(
            args.config, registry, lambda config: run_campaigns_command(config, args, registry)
        )
    )


def run_campaigns_command(
    config: Config, args: argparse.Namespace, registry: ConnectorRegistry
) -> int:
    if args.campaigns_command == "create":
        return asyncio.run(create_command(config, args))
    if args.campaigns_command == "list":
        return asyncio.run(list_command(config))
    return asyncio.run(preview_command(config, args.name, registry))


async def create_command(config: Config, args: argparse.Namespace) -> int:
    segment: dict[str, object] = {"tags": args.tag}
    for key in ("locale", "country", "purchased_after", "purchased_before", "purchase_above"):
        if getattr(args, key) is not None:
            segment[key] = getattr(args, key)
    if args.open_ticket:
        segment["open_ticket"] = args.open_ticket == "yes"
    params = dict(p.partition("=")[::2] for p in args.param)
    try:
        campaign = CampaignConfig.model_validate(
            {
                "name": args.name,
                "template": args.template,
                "send_date": args.date,
                "send_hour": args.hour,
                "channel_order": args.channel or ["email"],
                "enabled": not args.disabled,
                "catch_up_hours": args.catch_up_hours,
                "params": params,
                "segment": segment,
            }
        )
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            print(f"{where}: {err['msg']}", file=sys.stderr)
        return 2
    replies = Replies(config.replies.templates_dir, config.hub.default_locale)
    if not replies.has(campaign.template, config.hub.default_locale):
        print(
            f"no template {config.hub.default_locale}/{campaign.template}.txt.j2", file=sys.stderr
        )
        return 2
    store = Store(config.storage.url)
    try:
        await store.migrate()
        await create_campaign(store, campaign, config.campaigns)
    except CampaignExists as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        await store.close()
    print(f"campaign {campaign.name} created: {campaign.send_date} at {campaign.send_hour:02d}:00")
    return 0


async def list_command(config: Config) -> int:
    store = Store(config.storage.url)
    try:
        await store.migrate()
        every = await campaigns_in_effect(store, config.campaigns)
    finally:
        await store.close()
    configured = {c.name for c in config.campaigns}
    for c in every:
        source = "config" if c.name in configured else "cli"
        state = "enabled" if c.enabled else "disabled"
        print(f"{c.name}\t{c.send_date} {c.send_hour:02d}:00\t{c.template}\t{state}\t{source}")
    return 0


async def preview_command(config: Config, name: str, registry: ConnectorRegistry) -> int:
    store = Store(config.storage.url)
    try:
        await store.migrate()
        every = await campaigns_in_effect(store, config.campaigns)
        campaign = next((c for c in every if c.name == name), None)
        if campaign is None:
            known = ", ".join(c.name for c in every) or "none"
            print(f"no campaign {name!r} (campaigns: {known})", file=sys.stderr)
            return 2
        sweeper = campaign_sweeper(await sweeper_sources(store, config, registry))
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
