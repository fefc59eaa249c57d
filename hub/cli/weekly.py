"""`hub reports weekly [--summary NAME] [--at INSTANT]`: the weekly summary emails as they
go out (reports.weekly), to check the templates and the figures; queues nothing."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from hub.cli.common import DEFAULT_CONFIG, SubParsers, with_config
from hub.config.loader import Config
from hub.connector import ConnectorRegistry


def add_weekly_cli(sub: SubParsers, registry: ConnectorRegistry) -> None:
    q = sub.add_parser(
        "weekly",
        help="show the weekly summary emails due at an instant (queues nothing)",
        description="Exit status: 0 shown, 2 the config or the arguments cannot be used.",
    )
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q.add_argument("--summary", help="only this summary (its name)")
    q.add_argument(
        "--at", help="the instant, ISO 8601 with its offset (default: now); its week is shown"
    )
    q.set_defaults(run=lambda args: with_config(args.config, registry, lambda c: _run(c, args)))


def _instant(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError("--at needs its offset, e.g. 2026-03-09T08:00+06:00")
    return at.astimezone(UTC)


def _run(config: Config, args: argparse.Namespace) -> int:
    summaries = [s for s in config.reports.weekly.summaries if args.summary in (None, s.name)]
    if not summaries:
        print(
            f"hub reports weekly: no summary {args.summary or ''} in reports.weekly",
            file=sys.stderr,
        )
        return 2
    try:
        at = _instant(args.at)
    except ValueError as exc:
        print(f"hub reports weekly: {exc}", file=sys.stderr)
        return 2
    print(asyncio.run(_show(config, [s.name for s in summaries], at)), end="")
    return 0


async def _show(config: Config, names: list[str], at: datetime) -> str:
    from hub.core.replies import Replies
    from hub.reports.weekly_send import WeeklyDeps, WeeklySummaries
    from hub.store import Store

    store = Store(config.storage.url)
    out: list[str] = []
    try:
        await store.migrate()
        weekly = WeeklySummaries(
            WeeklyDeps(
                store,
                Replies(config.replies.templates_dir, config.hub.default_locale),
                config.web.public_url,
                config.report_zone,
                {t.id: t.name for t in config.teams},
            ),
            config.reports.weekly,
        )
        for summary in config.reports.weekly.summaries:
            if summary.name not in names:
                continue
            week = weekly.due(summary, at)
            sent = await weekly.sent(summary.name, week.start)
            mail = await weekly.render(summary, week)
            out += [
                f"# {summary.name}: {week.start} .. {week.end}, due {week.due_at:%Y-%m-%d %H:%M} "
                f"UTC ({'queued already' if sent else 'not queued yet'})",
                f"To: {', '.join(summary.to)} (via {summary.via})",
                f"Subject: {mail.subject}",
                "",
                mail.text,
            ]
    finally:
        await store.close()
    return "\n".join(out) + "\n"
