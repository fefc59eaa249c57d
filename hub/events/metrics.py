"""Metric events: what reports count, one row per thing that happened, written in the
transaction of the change that caused it (append-only), with the daily rollup kept current
in the same statement group. Messages in and out are kept as counts instead of rows
(hub.events.counts).

The rollup holds, per day and per month in the operator's reporting time zone and per
kind, one row for every team ('' for all teams) and single dimension (`dim`, `member`):
("all", ""), ("channel", c), ("agent", a), ("priority", p) and ("tag", t) for each of the
event's tags. An event adds to each of its rows (an upsert adding counts and sums), so a
report over a year reads its months' rows and nothing is ever rescanned. Tags are a
dimension of their own: a ticket with two tags counts once in the totals and once under
each tag.

Callers compute the durations (hub.actions.measure): this layer sits below tickets and
knows no calendars.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.adding import adding_upsert, histogram_upsert
from hub.events.counts import add_counts
from hub.events.spans import ROLLUP_SPANS, span_starts
from hub.store.duration_buckets import bucket_of
from hub.store.many import Many
from hub.store.schema import metric_daily, metric_events

TICKET_OPENED = "ticket_opened"
TICKET_SOLVED = "ticket_solved"
TICKET_REOPENED = "ticket_reopened"
# The first human reply on a ticket: `seconds` since the ticket opened. Acknowledgements,
# the bot, campaigns, greetings and notes never count.
FIRST_RESPONSE = "first_response"
# Every later human reply: `seconds` the customer waited (since their oldest message no
# human had answered yet), None when they had not written since the last reply.
REPLY = "reply"
# A chat the bot handed to a person; `value`: the FAQ answers the chat got before it.
BOT_HANDOVER = "bot_handover"
FAQ_ANSWERED = "faq_answered"
# An SLA target met or missed (hub.sla); `seconds`: how long it took.
SLA_ACHIEVED = "sla_achieved"
SLA_BREACHED = "sla_breached"
SURVEY_SENT = "survey_sent"
# `value`: the rating, 1-5; credited to the agent and team captured when it was sent. A
# customer who changes their rating: the old answer recorded again with weight -1 (it is
# taken back out of every count), then the new one.
SURVEY_ANSWERED = "survey_answered"
MESSAGE_IN = "message_in"
MESSAGE_OUT = "message_out"

KINDS = (
    TICKET_OPENED,
    TICKET_SOLVED,
    TICKET_REOPENED,
    FIRST_RESPONSE,
    REPLY,
    BOT_HANDOVER,
    FAQ_ANSWERED,
    SLA_ACHIEVED,
    SLA_BREACHED,
    SURVEY_SENT,
    SURVEY_ANSWERED,
    MESSAGE_IN,
    MESSAGE_OUT,
)

# Kinds kept as counts, not rows (hub.events.counts), and the ticket counter of each: only
# ever counted, and two of the three events a web form message makes.
COUNTED = {MESSAGE_IN: "messages_in", MESSAGE_OUT: "messages_out"}
# The kinds in `metric_events`.
ROW_KINDS = tuple(k for k in KINDS if k not in COUNTED)

# The rollup's dimensions besides the team; "all" is the row every event adds to.
DIMENSIONS = ("all", "channel", "agent", "priority", "tag")
# A CSAT rating counted as satisfied (of 1-5).
POSITIVE_RATING = 4


@dataclass(frozen=True)
class MetricEvent:
    kind: str
    occurred_at: datetime
    ticket_id: int | None = None
    customer_id: int | None = None
    team: str | None = None
    channel: str | None = None
    # The agent's username: who replied, solved, or is credited with a survey.
    agent: str | None = None
    priority: str | None = None
    tags: tuple[str, ...] = ()
    # Calendar time and business time (None where no business calendar applies).
    seconds: float | None = None
    business_seconds: float | None = None
    value: int | None = None
    # -1 takes an earlier event back out of the counts (append-only: nothing is updated).
    weight: int = 1


def ticket_event(row: Any, kind: str, at: datetime, **extra: Any) -> MetricEvent:
    """An event about the ticket `row` (a tickets row), with its team, channel and tags."""
    return MetricEvent(
        kind=kind,
        occurred_at=at,
        ticket_id=row.id,
        customer_id=row.customer_id,
        team=row.team_id,
        channel=row.channel,
        priority=row.priority,
        tags=tuple(row.tags or ()),
        **extra,
    )


async def record(conn: AsyncConnection, events: Sequence[MetricEvent], zone: tzinfo) -> None:
    """Record events in the caller's transaction and add them to the daily rollup, whose
    days are those of `zone` (the operator's `reports.timezone`)."""
    if not events:
        return
    unknown = {e.kind for e in events} - set(KINDS)
    if unknown:
        raise ValueError(f"unknown metric event kinds: {sorted(unknown)}")
    rows = [_event_row(e) for e in events if e.kind not in COUNTED]
    if rows:
        await _APPEND.run(conn, rows)
    await add_counts(conn, [e for e in events if e.kind in COUNTED], COUNTED)
    dialect = conn.dialect.name
    await adding_upsert(dialect, metric_daily, ROLLUP_SUMS).run(conn, rollup_rows(events, zone))
    counted = histogram_rows(events, zone)
    if counted:
        await histogram_upsert(dialect).run(conn, counted)


_APPEND = Many(metric_events.insert(), deferred=True)


def _event_row(e: MetricEvent) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "occurred_at": e.occurred_at,
        "ticket_id": e.ticket_id,
        "customer_id": e.customer_id,
        "team_id": e.team,
        "channel": e.channel,
        "agent": e.agent,
        "priority": e.priority,
        "tags": list(e.tags),
        "seconds": e.seconds,
        "business_seconds": e.business_seconds,
        "value": e.value,
        "weight": e.weight,
    }


# The rollup's sums, in the order rollup_rows adds them up (and figures.Sums takes them).
ROLLUP_SUMS = (
    "n",
    "seconds_n",
    "seconds_sum",
    "business_n",
    "business_sum",
    "value_sum",
    "positive",
)


def _keys(
    team: str | None,
    channel: str | None,
    agent: str | None,
    priority: str | None,
    tags: tuple[str, ...],
) -> Iterable[tuple[str, str, str]]:
    """(team, dimension, member) of every rollup row an event adds to."""
    dims: list[tuple[str, str]] = [("all", "")]
    if channel:
        dims.append(("channel", channel))
    if agent:
        dims.append(("agent", agent))
    if priority:
        dims.append(("priority", priority))
    dims.extend(("tag", t) for t in sorted(set(tags)) if t)
    for team_key in ("", team) if team else ("",):
        for dim, member in dims:
            yield team_key, dim, member


def rollup_rows(events: Iterable[MetricEvent], zone: tzinfo) -> list[dict[str, Any]]:
    """The rollup rows the events add, summed per key first: a batch of a hundred
    messages adds to a few dozen rows, each in its day's and its month's row
    (hub.events.spans.ROLLUP_SPANS). Events alike but for their measures are summed
    before their keys are worked out (most of a batch is alike)."""
    sums: dict[tuple[str, str, str, date, str, str], list[Any]] = {}
    spans: dict[date, tuple[tuple[str, date], ...]] = {}
    for (day, kind, team, channel, agent, priority, tags), add in _alike(events, zone).items():
        starts = spans.get(day)
        if starts is None:
            starts = spans[day] = span_starts(day, ROLLUP_SPANS)
        for team_key, dim, member in _keys(team, channel, agent, priority, tags):
            for span, first in starts:
                k = (dim, team_key, span, first, kind, member)
                acc = sums.get(k)
                if acc is None:
                    sums[k] = list(add)
                else:
                    for i in range(7):
                        acc[i] += add[i]
    return [
        dict(zip(_ROLLUP_KEY, k, strict=True)) | dict(zip(ROLLUP_SUMS, acc, strict=True))
        for k, acc in sorted(sums.items())
    ]


def _alike(events: Iterable[MetricEvent], zone: tzinfo) -> dict[tuple[Any, ...], list[Any]]:
    """(day, kind, team, channel, agent, priority, tags) -> the events' sums."""
    alike: dict[tuple[Any, ...], list[Any]] = {}
    days: dict[datetime, date] = {}
    for e in events:
        at = e.occurred_at
        day = days.get(at)
        if day is None:
            day = days[at] = at.astimezone(zone).date()
        key = (day, e.kind, e.team, e.channel, e.agent, e.priority, e.tags)
        acc = alike.get(key)
        if acc is None:
            acc = alike[key] = [0, 0, 0.0, 0, 0.0, 0, 0]
        w = e.weight
        acc[0] += w
        if e.seconds is not None:
            acc[1] += w
            acc[2] += w * e.seconds
        if e.business_seconds is not None:
            acc[3] += w
            acc[4] += w * e.business_seconds
        if e.value is not None:
            acc[5] += w * e.value
            if e.kind == SURVEY_ANSWERED and e.value >= POSITIVE_RATING:
                acc[6] += w
    return alike


# metric_daily's key, in its order (rows sorted by it take their locks in one order).
_ROLLUP_KEY = ("dim", "team_id", "span", "day", "kind", "member")


# The kinds whose durations reports rank (medians, p90s): the histogram's.
HISTOGRAM_KINDS = (FIRST_RESPONSE, REPLY, TICKET_SOLVED)


def histogram_rows(events: Iterable[MetricEvent], zone: tzinfo) -> list[dict[str, Any]]:
    """What the events add to the histogram (hub.events.adding.histogram_upsert): one row
    per (span, kind, basis, team, member, bucket) of every duration with how many (`n`),
    counted once whatever its weight (a quantile ranks the values, as the events hold
    them), in its day's, week's and month's rows (hub.events.spans). The ("all", "")
    member and the ("agent", who) one, of every team and of all teams: the totals' and the
    per-agent report's quantiles are the ones it speeds up; every other dimension would
    multiply the rows a reply writes (its quantiles read its values)."""
    counts: dict[tuple[Any, ...], int] = {}
    for e in events:
        if e.kind not in HISTOGRAM_KINDS:
            continue
        spans = span_starts(e.occurred_at.astimezone(zone).date())
        members = (("all", ""), ("agent", e.agent)) if e.agent else (("all", ""),)
        for basis, value in (("calendar", e.seconds), ("business", e.business_seconds)):
            if value is None:
                continue
            b = bucket_of(value)
            for team_key in ("", e.team) if e.team else ("",):
                for dim, member in members:
                    for span, first in spans:
                        k = (dim, team_key, e.kind, basis, span, first, member, b)
                        counts[k] = counts.get(k, 0) + 1
    names = ("dim", "team_id", "kind", "basis", "span", "day", "member", "bucket")
    return [dict(zip(names, k, strict=True)) | {"n": n} for k, n in sorted(counts.items())]
