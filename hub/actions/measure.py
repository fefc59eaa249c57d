"""The metric events of ticket changes: a status change's solve or reopen, an agent's reply
with the customer's wait, in calendar time and (where the team has a calendar) business
time. Built here, above hub.sla's calendars, and recorded by hub.events.metrics in the
caller's transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.metrics import (
    FIRST_RESPONSE,
    MESSAGE_OUT,
    REPLY,
    TICKET_REOPENED,
    TICKET_SOLVED,
    MetricEvent,
    record,
    ticket_event,
)
from hub.sla.calendar import Calendar
from hub.store import utcnow
from hub.store.schema import messages, metric_events
from hub.tickets.records import OPEN_STATUSES


def _no_calendar(team: str | None) -> Calendar | None:
    return None


@dataclass(frozen=True)
class Measure:
    """How events are measured: the reporting day's zone (the rollup's days) and each
    team's business calendar (None: business time is not counted for it)."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    calendar_for: Callable[[str | None], Calendar | None] = _no_calendar
    # When agents' changes happen (tests inject theirs).
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def of_zone(cls, name: str) -> Measure:
        return cls(ZoneInfo(name))

    def durations(
        self, team: str | None, start: datetime, end: datetime
    ) -> tuple[float, float | None]:
        """Calendar seconds and business seconds from start to end (never negative)."""
        if end <= start:
            return 0.0, (0.0 if self.calendar_for(team) is not None else None)
        calendar = self.calendar_for(team)
        business = calendar.elapsed(start, end).total_seconds() if calendar is not None else None
        return (end - start).total_seconds(), business

    async def record(self, conn: AsyncConnection, events: Sequence[MetricEvent]) -> None:
        await record(conn, events, self.zone)


async def cycle_start(conn: AsyncConnection, row: Any) -> datetime:
    """When the ticket's current cycle began: its last reopening, else its opening."""
    reopened = (
        await conn.execute(
            select(func.max(metric_events.c.occurred_at)).where(
                metric_events.c.ticket_id == row.id, metric_events.c.kind == TICKET_REOPENED
            )
        )
    ).scalar_one_or_none()
    start: datetime = row.created_at
    return max(start, _aware(reopened)) if reopened is not None else start


async def status_events(
    conn: AsyncConnection, measure: Measure, row: Any, new: str, change: StatusChange
) -> list[MetricEvent]:
    """A solve (an open status to solved or closed: `seconds` since the cycle began) or a
    reopening (solved or closed to an open status); nothing for other changes."""
    old = row.status
    if old in OPEN_STATUSES and new not in OPEN_STATUSES:
        seconds, business = measure.durations(row.team_id, await cycle_start(conn, row), change.at)
        return [
            ticket_event(
                row,
                TICKET_SOLVED,
                change.at,
                agent=change.agent,
                seconds=seconds,
                business_seconds=business,
            )
        ]
    if old not in OPEN_STATUSES and new in OPEN_STATUSES:
        return [ticket_event(row, TICKET_REOPENED, change.at, agent=change.agent)]
    return []


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    # Who made it; None for the customer or the bot.
    agent: str | None = None


async def reply_events(
    conn: AsyncConnection, measure: Measure, row: Any, agent: str, at: datetime
) -> list[MetricEvent]:
    """A human reply: the ticket's first response (`seconds` since it opened), or a later
    reply (`seconds` the customer waited since their oldest message not yet answered, None
    if they had not written since), and the outgoing message."""
    answered = (
        await conn.execute(
            select(func.max(metric_events.c.occurred_at)).where(
                metric_events.c.ticket_id == row.id,
                metric_events.c.kind.in_((FIRST_RESPONSE, REPLY)),
            )
        )
    ).scalar_one_or_none()
    out = ticket_event(row, MESSAGE_OUT, at, agent=agent)
    if answered is None:
        seconds, business = measure.durations(row.team_id, row.created_at, at)
        first = ticket_event(
            row, FIRST_RESPONSE, at, agent=agent, seconds=seconds, business_seconds=business
        )
        return [first, out]
    waiting_since = (
        await conn.execute(
            select(func.min(messages.c.received_at)).where(
                messages.c.ticket_id == row.id,
                messages.c.direction == "in",
                messages.c.received_at > _aware(answered),
                messages.c.received_at <= at,
            )
        )
    ).scalar_one_or_none()
    if waiting_since is None:
        return [ticket_event(row, REPLY, at, agent=agent), out]
    seconds, business = measure.durations(row.team_id, _aware(waiting_since), at)
    reply = ticket_event(row, REPLY, at, agent=agent, seconds=seconds, business_seconds=business)
    return [reply, out]


def _aware(t: datetime) -> datetime:
    # func.max/min bypass the column type's conversion: SQLite hands back naive UTC
    # (or its text), PostgreSQL aware.
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return t if t.tzinfo is not None else t.replace(tzinfo=ZoneInfo("UTC"))


async def measure_reply(
    conn: AsyncConnection,
    measure: Measure,
    row: Any,
    change: StatusChange,
    due: datetime,
    new_status: str | None,
) -> None:
    """Record a reply's events: a person's (`change.agent`) response, or an integration's
    outgoing message, due when it is sent; and the status change it made, if any."""
    if change.agent is not None:
        events = await reply_events(conn, measure, row, change.agent, due)
    else:
        events = [ticket_event(row, MESSAGE_OUT, due)]
    if new_status is not None and new_status != row.status:
        events += await status_events(conn, measure, row, new_status, change)
    await measure.record(conn, events)
