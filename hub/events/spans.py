"""The spans of time the durations' histogram (and, but for weeks, the rollup) is kept for:
each duration is counted in its day's, its week's (from Monday) and its month's rows, and
a report's range of days is read as the fewest whole spans that make it up (its whole
months, then the whole weeks of what is left, then single days). A 90-day per-agent
report reads about a quarter of the rows the days alone would take: per agent, a day
holds a few durations in as many buckets, a month a few hundred in not many more."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

DAY, WEEK, MONTH = "day", "week", "month"


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


# The spans each table keeps. The rollup keeps no weeks: every ingested message adds to
# its rows, a week's would cost each ingest batch a third set of upserts, and a 365-day
# report needs only the months (a 90-day one reads at most two months' worth of days).
# The histogram is written by replies only, and its 90-day quantiles read fewer rows
# with weeks.
ALL_SPANS = (DAY, WEEK, MONTH)
ROLLUP_SPANS = (DAY, MONTH)


def span_starts(day: date, spans: tuple[str, ...] = ALL_SPANS) -> tuple[tuple[str, date], ...]:
    """The (span, first day) of every row of `spans` a duration of `day` is counted in."""
    starts = {DAY: day, WEEK: week_start(day), MONTH: month_start(day)}
    return tuple((s, starts[s]) for s in spans)


def cover(first: date, end: date, spans: tuple[str, ...] = ALL_SPANS) -> dict[str, list[date]]:
    """span -> the first days of the spans that make up the days first..end (exclusive):
    whole months, whole weeks of the rest (where `spans` has weeks), then days; each day
    in exactly one."""
    out: dict[str, list[date]] = {DAY: [], WEEK: [], MONTH: []}
    m = month_start(first) if first.day == 1 else _next_month(first)
    months = []
    while _next_month(m) <= end:
        months.append(m)
        m = _next_month(m)
    out[MONTH] = months
    rest = [(first, months[0]), (_next_month(months[-1]), end)] if months else [(first, end)]
    for a, b in rest:
        if WEEK not in spans:
            out[DAY] += _days(a, b)
            continue
        for lo, hi in _weeks(a, b, out[WEEK]):
            out[DAY] += _days(lo, hi)
    return out


def _weeks(a: date, b: date, into: list[date]) -> Iterator[tuple[date, date]]:
    """Adds the whole weeks of a..b (exclusive) to `into`; yields the days left over as
    ranges."""
    w = a if a.weekday() == 0 else week_start(a) + timedelta(days=7)
    if w + timedelta(days=7) > b:
        yield a, b
        return
    yield a, w
    while w + timedelta(days=7) <= b:
        into.append(w)
        w += timedelta(days=7)
    yield w, b


def _days(a: date, b: date) -> list[date]:
    return [a + timedelta(days=i) for i in range((b - a).days)]
