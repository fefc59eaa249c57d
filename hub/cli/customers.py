"""`hub customers import FILE`: contacts and purchases from CSV; export and erasure."""

from __future__ import annotations

import argparse
import asyncio

from hub.cli.common import DEFAULT_CONFIG, SubParsers, with_config
from hub.cli.customer_privacy import add_privacy_cli
from hub.cli.duplicates import add_duplicates_parser
from hub.config.loader import Config
from hub.connector import ConnectorRegistry


def add_customers_cli(sub: SubParsers, registry: ConnectorRegistry) -> None:
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
    q.set_defaults(run=lambda args: with_config(args.config, registry, lambda c: _import(c, args)))
    add_privacy_cli(csub, registry)
    add_duplicates_parser(csub, registry)


def _import(config: Config, args: argparse.Namespace) -> int:
    from hub.actions.customer_edit import import_effects
    from hub.customers.importer import run_import

    return asyncio.run(
        run_import(config, args.file, progress=not args.no_progress, after=import_effects(config))
    )
