"""`hub demo seed`: the demo database's history (hub.demo), for the shipped demo config only."""

from __future__ import annotations

import argparse
import asyncio
import sys

from hub.cli.common import DEFAULT_CONFIG, EXIT_CONFIG, SubParsers, with_config
from hub.config.loader import Config
from hub.connector import ConnectorRegistry

EXIT_REFUSED = 1


def add_demo_cli(sub: SubParsers, registry: ConnectorRegistry) -> None:
    p = sub.add_parser("demo", help="the demo's history")
    dsub = p.add_subparsers(dest="demo_command", required=True)
    q = dsub.add_parser(
        "seed",
        help="fill an empty demo database with 90 days of customers, tickets and ratings",
        description="Seed the database of a demo config (hub.demo: true) with customers "
        "(English and Bengali), tickets, replies, solves and survey answers spread over the "
        "last days, made through the hub's own code. A config without hub.demo is refused "
        "(exit 2); a database with tickets is left alone (exit 1, or 0 with --if-empty).",
    )
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q.add_argument("--if-empty", action="store_true", help="seed only an empty database")
    q.add_argument("--days", type=int, default=90)
    q.add_argument("--customers", type=int, default=300)
    q.add_argument(
        "--import",
        dest="import_csv",
        default="config/demo-customers.csv",
        help="a customers CSV imported after the history (the review queue's duplicates); "
        "'' for none",
    )
    q.add_argument(
        "--seed", type=int, default=2026, help="the random seed (same seed, same history)"
    )
    q.set_defaults(
        run=lambda args: with_config(args.config, registry, lambda c: _seed(c, args, registry))
    )


def _seed(config: Config, args: argparse.Namespace, registry: ConnectorRegistry) -> int:
    from pathlib import Path

    from hub.demo.seed import AlreadySeeded, SeedPlan, SeedRefused, seed_demo

    if not config.hub.demo:
        print(
            "hub demo seed: this config is not a demo (set hub.demo: true); refused",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    plan = SeedPlan(
        args.days, args.customers, args.seed, Path(args.import_csv) if args.import_csv else None
    )
    try:
        report = asyncio.run(seed_demo(config, registry, plan))
    except SeedRefused as exc:
        if args.if_empty and isinstance(exc, AlreadySeeded):
            print("the demo database already has its history")
            return 0
        print(f"hub demo seed: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(
        f"customers={report.customers} replies={report.replies} ratings={report.ratings} "
        f"in {report.seconds:.1f}s"
    )
    print(f"seeded_tickets={report.tickets}")
    return 0
