"""Business-time arithmetic speed: add() and elapsed() per second (#14).

Run: `.venv/bin/python bench/business_time.py [--n 100000] [--seed 0]`.

The calendar is an office with a lunch break and a short Thursday, Bangladesh's public
holidays (the `holidays` package), listed dates and overrides: `dhaka-office` of the demo
config with a few more closures. `--n` tickets (the figure an SLA sweep over 100,000 open
tickets meets) get a start drawn over two years and a target drawn from 15 minutes to 5 days
of open time; each is added, and the open time from its start to a second instant is
measured. CALENDAR_TIME (24/7) runs the same instants in the same run, as the floor.

Printed: the cold cost of a year (building its intervals once), the rates of both
calendars, the check that every elapsed(s, add(s, d)) == d, and the headline last:
`business_add_per_s=<rate>`.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hub.config.calendars import CalendarConfig
from hub.sla.calendar import CALENDAR_TIME, Calendar
from hub.sla.calendars import build_calendar

OFFICE = {
    "timezone": "Asia/Dhaka",
    "hours": {"sun-wed": ["09:00-13:00", "14:00-18:00"], "thu": ["09:00-13:00", "14:00-16:00"]},
    "holidays": {"country": "BD", "dates": ["2027-06-10", "2027-09-01", "2028-01-02"]},
    "overrides": {"2027-03-20": ["10:00-14:00"], "2027-10-07": []},
}


def _rate(n: int, run: Callable[[], object]) -> float:
    began = time.perf_counter()
    run()
    return n / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    origin = datetime(2027, 1, 1, tzinfo=UTC)
    two_years = 2 * 365 * 24 * 3600
    starts = [origin + timedelta(seconds=rng.randrange(two_years)) for _ in range(args.n)]
    targets = [timedelta(minutes=rng.randrange(15, 5 * 24 * 60)) for _ in range(args.n)]
    ends = [s + timedelta(seconds=rng.randrange(30 * 24 * 3600)) for s in starts]

    office = build_calendar("office", CalendarConfig.model_validate(OFFICE))
    began = time.perf_counter()
    office.elapsed(datetime(2031, 1, 1, tzinfo=UTC), datetime(2031, 12, 31, tzinfo=UTC))
    print(
        f"one cold year (intervals built and cached): {(time.perf_counter() - began) * 1e3:.1f} ms"
    )

    rates: dict[str, tuple[float, float]] = {}
    dues: dict[str, list[datetime]] = {}
    calendars: tuple[tuple[str, Calendar], ...] = (
        ("calendar-time", CALENDAR_TIME),
        ("business", office),
    )
    for name, c in calendars:
        out = dues.setdefault(name, [])
        add_rate = _rate(args.n, lambda c=c, out=out: out.extend(map(c.add, starts, targets)))
        elapsed_rate = _rate(args.n, lambda c=c: list(map(c.elapsed, starts, ends)))
        rates[name] = (add_rate, elapsed_rate)
        print(f"{name}: add {add_rate:,.0f}/s, elapsed {elapsed_rate:,.0f}/s")
    exact = sum(
        office.elapsed(s, d) == t for s, d, t in zip(starts, dues["business"], targets, strict=True)
    )
    print(f"elapsed(s, add(s, d)) == d: {exact}/{args.n}")
    base_add, _ = rates["calendar-time"]
    add_rate, _ = rates["business"]
    print(f"business add is {base_add / add_rate:.1f}x slower than calendar time")
    print(f"business_add_per_s={add_rate:.0f}")


if __name__ == "__main__":
    main()
