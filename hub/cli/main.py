"""`hub serve | check-config | outbox … | customers import … | campaigns preview …`"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from hub.cli.agents import add_agents_cli
from hub.cli.campaigns import add_campaigns_cli
from hub.cli.faq import add_faq_cli
from hub.config.loader import Config, ConfigError, load_config
from hub.connector import ConnectorRegistry

DEFAULT_CONFIG = os.environ.get("HUB_CONFIG", "config/hub.yaml")
EXIT_CONFIG = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hub", description="The omnichannel eCRM hub.")
    parser.add_argument("--log-level", default=os.environ.get("HUB_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the hub")
    p.add_argument("config", nargs="?", default=DEFAULT_CONFIG)

    p = sub.add_parser("check-config", help="validate a config file (exit 2 when invalid)")
    p.add_argument("config", nargs="?", default=DEFAULT_CONFIG)

    p = sub.add_parser("outbox", help="inspect and retry outgoing messages")
    osub = p.add_subparsers(dest="outbox_command", required=True)
    q = osub.add_parser("list", help="recent outgoing messages")
    q.add_argument("--dead", action="store_true", help="only dead-lettered ones")
    q.add_argument("--limit", type=int, default=50)
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q = osub.add_parser("retry", help="send a dead-lettered message again")
    q.add_argument("id", type=int)
    q.add_argument("--config", default=DEFAULT_CONFIG)

    p = sub.add_parser("greetings", help="birthday and anniversary greetings")
    gsub = p.add_subparsers(dest="greetings_command", required=True)
    q = gsub.add_parser(
        "preview", help="who gets what on a date, and who is skipped; sends nothing"
    )
    q.add_argument("--date", help="the customers' local date, YYYY-MM-DD (default: today)")
    q.add_argument("--config", default=DEFAULT_CONFIG)

    p = sub.add_parser("customers", help="customer records")
    csub = p.add_subparsers(dest="customers_command", required=True)
    q = csub.add_parser(
        "import",
        help="import contacts and purchases from CSV",
        description="Import contacts and purchases from a UTF-8 CSV file (format: README.md, "
        "sample: config/examples/customers.csv). Running a file again changes nothing. "
        "Exit status: 0 all rows imported, 1 some rows rejected (listed on stderr with "
        "their line numbers), 2 the file or the config cannot be used.",
    )
    q.add_argument("file", help="the CSV file")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q.add_argument(
        "--no-progress", action="store_true", help="no progress bar (none when not a terminal)"
    )

    add_agents_cli(sub)
    add_campaigns_cli(sub)
    add_faq_cli(sub)
    registry = ConnectorRegistry.discover()
    for name in registry.names():
        ctype = registry.get(name)
        if ctype is not None and ctype.add_cli is not None:
            ctype.add_cli(sub)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
        stream=sys.stderr,
    )
    if hasattr(args, "run"):
        # A connector's own command: it brings its own function.
        return int(args.run(args))

    if args.command == "check-config":
        config = _load(args.config, registry)
        if config is None:
            return EXIT_CONFIG
        from hub.core.replies import Replies

        problems = Replies(config.replies.templates_dir, config.hub.default_locale).check()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            return EXIT_CONFIG
        print(
            f"{args.config}: ok ({len(config.connectors)} connectors, {len(config.teams)} teams, "
            f"{len(config.routing.rules)} routing rules)"
        )
        return 0

    config = _load(args.config, registry)
    if config is None:
        return EXIT_CONFIG
    if args.command == "serve":
        from hub.app import Hub

        asyncio.run(Hub(config, registry).serve_forever())
        return 0
    if args.command == "outbox":
        from hub.cli.outbox import run_outbox_command

        return asyncio.run(run_outbox_command(config, args))
    if args.command == "greetings":
        from hub.channels.directory import ChannelDirectory
        from hub.cli.greetings import run_greetings_command

        return asyncio.run(
            run_greetings_command(
                config,
                args,
                ChannelDirectory.build(config.connectors, registry).senders(),
                registry,
            )
        )
    if args.command == "customers":
        from hub.customers.importer import run_import

        return asyncio.run(run_import(config, args.file, progress=not args.no_progress))
    parser.error("unknown command")
    return EXIT_CONFIG


def _load(path: str, registry: ConnectorRegistry) -> Config | None:
    try:
        return load_config(path, registry)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return None
