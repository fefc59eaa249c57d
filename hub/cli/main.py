"""`hub serve | check-config | outbox … | customers import … | campaigns preview … | sla … |
reports summary … | webhooks …`"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from hub.cli.agents import add_agents_cli
from hub.cli.campaigns import add_campaigns_cli
from hub.cli.check_config import add_check_config_cli
from hub.cli.crm import add_crm_cli
from hub.cli.customers import add_customers_cli
from hub.cli.demo import add_demo_cli
from hub.cli.faq import add_faq_cli
from hub.cli.greetings import add_greetings_cli
from hub.cli.outbox import add_outbox_cli
from hub.cli.reports import add_reports_cli
from hub.cli.serve import add_serve_cli
from hub.cli.sla import add_sla_cli
from hub.cli.webhooks import add_webhooks_cli
from hub.connector import ConnectorRegistry


def main(argv: Sequence[str] | None = None) -> int:
    registry = ConnectorRegistry.discover()
    args = build_parser(registry).parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
        stream=sys.stderr,
    )
    # Every subcommand, the hub's and the connectors' own, brings its function.
    return int(args.run(args))


def build_parser(registry: ConnectorRegistry) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="The omnichannel eCRM hub.")
    parser.add_argument("--log-level", default=os.environ.get("HUB_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)
    add_serve_cli(sub, registry)
    add_check_config_cli(sub, registry)
    add_outbox_cli(sub, registry)
    add_greetings_cli(sub, registry)
    add_customers_cli(sub, registry)
    add_agents_cli(sub, registry)
    add_campaigns_cli(sub, registry)
    add_crm_cli(sub, registry)
    add_faq_cli(sub)
    add_sla_cli(sub, registry)
    add_reports_cli(sub, registry)
    add_demo_cli(sub, registry)
    add_webhooks_cli(sub, registry)
    for name in registry.names():
        ctype = registry.get(name)
        if ctype is not None and ctype.add_cli is not None:
            ctype.add_cli(sub)
    return parser
