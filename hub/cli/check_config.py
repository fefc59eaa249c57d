"""`hub check-config [CONFIG]`: validate a config file and its templates (exit 2 when invalid)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from hub.cli.common import DEFAULT_CONFIG, EXIT_CONFIG, SubParsers, load
from hub.config.loader import Config
from hub.connector import ConnectorRegistry


def add_check_config_cli(sub: SubParsers, registry: ConnectorRegistry) -> None:
    p = sub.add_parser("check-config", help="validate a config file (exit 2 when invalid)")
    p.add_argument("config", nargs="?", default=DEFAULT_CONFIG)
    p.set_defaults(run=lambda args: run_check_config(args, registry))


def run_check_config(args: argparse.Namespace, registry: ConnectorRegistry) -> int:
    config = load(args.config, registry)
    if config is None:
        return EXIT_CONFIG
    from hub.core.replies import Replies

    replies = Replies(config.replies.templates_dir, config.hub.default_locale)
    problems = replies.check()
    survey = config.surveys.template
    if config.surveys.enabled and not replies.has(survey, config.hub.default_locale):
        problems.append(
            f"{args.config}: surveys.template: no {config.hub.default_locale}/{survey}.txt.j2 "
            f"under {config.replies.templates_dir}"
        )
    if config.webhooks:
        text = Path(args.config).read_text(encoding="utf-8")
        problems += asyncio.run(webhook_destination_problems(args.config, text, config))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return EXIT_CONFIG
    print(
        f"{args.config}: ok ({len(config.connectors)} connectors, {len(config.teams)} teams, "
        f"{len(config.routing.rules)} routing rules)"
    )
    return 0


async def webhook_destination_problems(path: str, text: str, config: Config) -> list[str]:
    """Each webhook URL resolved now: one that reaches a loopback, private or link-local
    address without `allow_private` is refused (SSRF), named by file and line."""
    from hub.config.yaml_source import load_yaml
    from hub.webhooks.destinations import destination_problem

    source = load_yaml(text, path)
    found = await asyncio.gather(
        *(destination_problem(w.url, w.allow_private) for w in config.webhooks)
    )
    return [
        f"{path}:{source.line_for(('webhooks', i, 'url'))}: webhooks[{i}].url: refused: "
        f"{problem} (set allow_private: true only for a receiver on your own network)"
        for i, problem in enumerate(found)
        if problem is not None
    ]
