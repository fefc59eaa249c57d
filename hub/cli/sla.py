"""`hub sla due | elapsed | recompute`: an operator checks a calendar's arithmetic from the
shell, or puts the running SLA clocks on an edited calendar or policy.

    hub sla due --calendar dhaka-office --start 2027-02-18T15:30+06:00 --duration 90m
    hub sla elapsed --calendar dhaka-office --from 2027-02-18T15:30 --to 2027-02-22T10:00

The last line is for scripts: `due=<ISO 8601 in the calendar's offset>` or
`elapsed_minutes=<whole minutes, rounded down>`. A time without an offset is the calendar's
local time. A bad duration, time or calendar name is exit code 2, as a bad config is.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hub.cli.common import DEFAULT_CONFIG, EXIT_CONFIG, SubParsers, with_config
from hub.config.durations import DurationError, format_duration, parse_duration
from hub.config.loader import Config
from hub.connector import ConnectorRegistry
from hub.sla.business_time import BusinessCalendar, NoOpenTime
from hub.sla.calendars import UnknownCalendar, build_calendar
from hub.sla.open_hours import OutOfRange
from hub.sla.recompute import recompute_deadlines
from hub.sla.setup import sla_rules
from hub.store import Store

_MINUTE = timedelta(minutes=1)


class _UsageError(ValueError):
    pass


def add_sla_cli(sub: SubParsers, registry: ConnectorRegistry) -> None:
    p = sub.add_parser("sla", help="service levels: check a business-hours calendar")
    ssub = p.add_subparsers(dest="sla_command", required=True)
    due = ssub.add_parser("due", help="the deadline: open time added to a start on a calendar")
    due.add_argument("--start", required=True, help="ISO 8601, e.g. 2027-02-18T15:30+06:00")
    due.add_argument("--duration", required=True, help="open time, e.g. 45m, 8h, 2d, 1h30m")
    elapsed = ssub.add_parser("elapsed", help="the open time between two instants")
    elapsed.add_argument("--from", dest="from_", required=True, help="ISO 8601")
    elapsed.add_argument("--to", required=True, help="ISO 8601")
    for q in (due, elapsed):
        q.add_argument("--calendar", required=True, help="a name under calendars: in the config")
    recompute = ssub.add_parser(
        "recompute", help="every running SLA deadline again, after a calendar or policy edit"
    )
    for q in (due, elapsed, recompute):
        q.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(
        run=lambda args: with_config(
            args.config, registry, lambda config: run_sla_command(config, args)
        )
    )


def run_sla_command(config: Config, args: argparse.Namespace) -> int:
    if args.sla_command == "recompute":
        return asyncio.run(_recompute(config))
    try:
        if args.sla_command == "due":
            _due(config, args)
        else:
            _elapsed(config, args)
    except (_UsageError, DurationError, UnknownCalendar, NoOpenTime, OutOfRange) as exc:
        print(f"hub sla {args.sla_command}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


async def _recompute(config: Config) -> int:
    """Last line for scripts: `recomputed=<clocks whose deadline moved>`."""
    store = Store(config.storage.url)
    try:
        await store.migrate()
        done = await recompute_deadlines(store, sla_rules(config))
    finally:
        await store.close()
    print(f"clocks={done.clocks} running")
    print(f"recomputed={done.moved}")
    return 0


def _calendar(config: Config, name: str) -> BusinessCalendar:
    if name not in config.calendars:
        raise UnknownCalendar(name, sorted(config.calendars))
    return build_calendar(name, config.calendars[name])


def _instant(text: str, zone: ZoneInfo, option: str) -> datetime:
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _UsageError(
            f"{option} {text!r} is not an ISO 8601 time (e.g. 2027-02-18T15:30+06:00)"
        ) from None
    return t.replace(tzinfo=zone) if t.tzinfo is None else t


def _due(config: Config, args: argparse.Namespace) -> None:
    calendar = _calendar(config, args.calendar)
    start = _instant(args.start, calendar.zone, "--start")
    duration = parse_duration(args.duration)
    due = calendar.add(start, duration)
    print(f"calendar={calendar.name} timezone={calendar.zone.key}")
    print(f"start={start.astimezone(calendar.zone).isoformat()}")
    print(f"duration={format_duration(duration)} of open time")
    print(f"due={due.astimezone(calendar.zone).isoformat()}")


def _elapsed(config: Config, args: argparse.Namespace) -> None:
    calendar = _calendar(config, args.calendar)
    a = _instant(args.from_, calendar.zone, "--from")
    b = _instant(args.to, calendar.zone, "--to")
    if b < a:
        raise _UsageError(f"--to {args.to} is before --from {args.from_}")
    open_time = calendar.elapsed(a, b)
    print(f"calendar={calendar.name} timezone={calendar.zone.key}")
    print(f"from={a.astimezone(calendar.zone).isoformat()}")
    print(f"to={b.astimezone(calendar.zone).isoformat()}")
    print(f"elapsed={open_time} of open time")
    print(f"elapsed_minutes={open_time // _MINUTE}")
