"""`hub reports summary --from DATE --to DATE [--group team] [--json | --csv]`: the
figures the Reports page and the API show, for the whole hub (the operator's view)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from hub.cli.common import DEFAULT_CONFIG, SubParsers, with_config
from hub.cli.weekly import add_weekly_cli
from hub.config.loader import Config
from hub.connector import ConnectorRegistry
from hub.reports.request import BUCKETS, GROUPS


def add_reports_cli(sub: SubParsers, registry: ConnectorRegistry) -> None:
    p = sub.add_parser("reports", help="report figures (what the Reports page shows)")
    rsub = p.add_subparsers(dest="reports_command", required=True)
    add_weekly_cli(rsub, registry)  # `hub reports weekly`: the weekly summary emails
    q = rsub.add_parser(
        "summary",
        help="the figures of a range of days, optionally per group or time bucket",
        description="Exit status: 0 printed, 2 the config or the request cannot be used.",
    )
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    q.add_argument("--to", dest="end", required=True, help="last day (inclusive), YYYY-MM-DD")
    q.add_argument("--tz", help="IANA time zone of the days (default: reports.timezone)")
    q.add_argument("--group", choices=GROUPS)
    q.add_argument("--bucket", choices=BUCKETS)
    q.add_argument("--basis", choices=("calendar", "business"), default="calendar")
    for name in GROUPS:
        q.add_argument(f"--{name}", dest=f"only_{name}", help=f"only this {name}")
    out = q.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="the API's JSON")
    out.add_argument("--csv", action="store_true", help="the groups CSV export")
    p.set_defaults(run=lambda args: with_config(args.config, registry, lambda c: _run(c, args)))


def _run(config: Config, args: argparse.Namespace) -> int:
    from hub.reports.request import BadReport, ReportForm, build_request

    form = ReportForm(
        start=args.start,
        end=args.end,
        zone=args.tz or config.report_zone,
        group=args.group,
        bucket=args.bucket,
        basis=args.basis,
        filters={k: v for k in GROUPS if (v := getattr(args, f"only_{k}")) is not None},
    )
    try:
        req = build_request(form, None, config.reports.max_days)
    except BadReport as exc:
        print(f"hub reports: {exc}", file=sys.stderr)
        return 2
    print(asyncio.run(_render(config, req, args)), end="")
    return 0


async def _render(config: Config, req: object, args: argparse.Namespace) -> str:
    from hub.reports.output import groups_csv, report_json, text_table
    from hub.reports.report import build_report
    from hub.store import Store

    store = Store(config.storage.url)
    try:
        await store.migrate()
        report = await build_report(store, req, config.report_zone)  # type: ignore[arg-type]
    finally:
        await store.close()
    if args.json:
        return json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"
    if args.csv:
        return groups_csv(report)
    return text_table(report)
