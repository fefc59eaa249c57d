"""`hub serve [CONFIG]`: run the hub."""

from __future__ import annotations

import asyncio

from hub.cli.common import DEFAULT_CONFIG, SubParsers, with_config
from hub.config.loader import Config
from hub.connector import ConnectorRegistry


def add_serve_cli(sub: SubParsers, registry: ConnectorRegistry) -> None:
    p = sub.add_parser("serve", help="run the hub")
    p.add_argument("config", nargs="?", default=DEFAULT_CONFIG)
    p.set_defaults(
        run=lambda args: with_config(args.config, registry, lambda c: _serve(c, registry))
    )


def _serve(config: Config, registry: ConnectorRegistry) -> int:
    # Imported here: the other commands need none of the running hub.
    from hub.app import serve_forever

    asyncio.run(serve_forever(config, registry))
    return 0
