"""The periodic SLA check: deadlines that passed become breaches, warnings and breach
notices that are due go out, each once.

Each round is three range reads on indexed columns (pending targets by due_at, warn_at,
breach_notify_at), so it costs the same with 100 or 100,000 open tickets. Every target
is claimed by an UPDATE whose WHERE only the first process to get there still satisfies
(status still pending, warn_at still set): with several hub processes on PostgreSQL the
second finds nothing left to take, and no notice goes twice. In the claim's transaction:
the team's notification rows (batched into Slack/Teams posts by hub.notify.sweep), the
`sla.warning` / `sla.breached` integration events, and the ticket's SLA timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.outgoing import SLA_BREACHED, SLA_WARNING, OutgoingEvent, emit
from hub.sla.clocks import SlaClocks
from hub.sla.deadline import label
from hub.sla.outcomes import BREACHED, Outcome, record_outcomes
from hub.sla.policy import SlaRules
from hub.store import Store
from hub.store.schema import notification_events, sla_events, sla_targets, tickets

log = logging.getLogger("hub.sla")
_T = sla_targets.c
# Targets taken per step and round; more wait for the next round.
BATCH = 1000
_CLAIMED = (
    _T.id,
    _T.ticket_id,
    _T.kind,
    _T.cycle,
    _T.policy,
    _T.due_at,
)


@dataclass(frozen=True)
class CheckResult:
    breached: int = 0
    warned: int = 0
    breach_notices: int = 0


class SlaCheck:
    def __init__(
        self, store: Store, clocks: SlaClocks, *, on_queued: Callable[[], None] = lambda: None
    ) -> None:
        self.store = store
        self.clocks = clocks
        self.on_queued = on_queued

    @property
    def rules(self) -> SlaRules:
        return self.clocks.rules

    @property
    def interval_seconds(self) -> float:
        return self.rules.config.check_seconds

    async def check_once(self) -> None:
        """One round; the hub's scheduler runs it every `check_seconds`."""
        await self.check()

    async def check(self, now: datetime | None = None) -> CheckResult:
        now = now or self.clocks.clock()
        if not await self._anything_due(now):
            return CheckResult()
        async with self.store.write() as conn:
            breached = await self._breach(conn, now)
            warned = await self._notice(conn, now, "warning")
            notices = await self._notice(conn, now, "breach")
        if warned or notices:
            self.on_queued()
        if breached or warned or notices:
            log.info("sla check breached=%s warned=%s breach_notices=%s", breached, warned, notices)
        return CheckResult(breached, warned, notices)

    async def _anything_due(self, now: datetime) -> bool:
        """Read without the write lock: most rounds find nothing, and a write transaction
        every round would queue behind ingest's writes."""
        async with self.store.read() as conn:
            for query in (
                select(_T.id).where(_T.status == "pending", _T.due_at <= now),
                select(_T.id).where(_T.status == "pending", _T.warn_at <= now),
                select(_T.id).where(_T.status == "breached", _T.breach_notify_at <= now),
            ):
                if (await conn.execute(query.limit(1))).first() is not None:
                    return True
        return False

    async def _breach(self, conn: AsyncConnection, now: datetime) -> int:
        due = and_(_T.status == "pending", _T.due_at <= now, _T.achieved_at.is_(None))
        rows = await _claim(
            conn,
            due,
            # The warning it would have had is moot now.
            {"status": "breached", "breached_at": _T.due_at, "warn_at": None},
        )
        if not rows:
            return 0
        await emit(conn, _events(SLA_BREACHED, rows), now)
        await _timeline(conn, rows, "breached", now)
        # Counted when the deadline passed, not when the check saw it.
        await record_outcomes(
            conn, [Outcome(r.ticket_id, BREACHED, r.due_at) for r in rows], self.clocks.zone
        )
        return len(rows)

    async def _notice(self, conn: AsyncConnection, now: datetime, which: str) -> int:
        if which == "warning":
            when = and_(_T.status == "pending", _T.warn_at <= now, _T.achieved_at.is_(None))
            rows = await _claim(conn, when, {"warn_at": None, "warned_at": now})
        else:
            when = and_(_T.status == "breached", _T.breach_notify_at <= now)
            rows = await _claim(conn, when, {"breach_notify_at": None, "breach_notified_at": now})
        if not rows:
            return 0
        teams = await _teams_of(conn, rows)
        kind = "sla_warning" if which == "warning" else "sla_breached"
        notices = [
            {
                "connector_id": connector,
                "ticket_id": r.ticket_id,
                "kind": kind,
                "reason": f"{label(r.kind, r.cycle)} due {r.due_at:%Y-%m-%d %H:%M} UTC"[:100],
                "status": "pending",
                "created_at": now,
            }
            for r in rows
            for connector in self.rules.notifying(r.policy, teams[r.ticket_id]).connectors
        ]
        if notices:
            await conn.execute(
                self.store.insert(notification_events).on_conflict_do_nothing(
                    index_elements=["ticket_id", "connector_id", "kind", "reason"]
                ),
                notices,
            )
        if which == "warning":
            await emit(conn, _events(SLA_WARNING, rows), now)
            await _timeline(conn, rows, "warned", now)
        return len(rows)


def _events(kind: str, rows: Sequence[Any]) -> list[OutgoingEvent]:
    """The integration events of claimed targets (sla.warning or sla.breached)."""
    return [
        OutgoingEvent(
            kind,
            {
                "target": r.kind,
                "cycle": r.cycle,
                "policy": r.policy,
                "due_at": r.due_at.isoformat(),
            },
            ticket_id=r.ticket_id,
        )
        for r in rows
    ]


async def _claim(conn: AsyncConnection, where: Any, values: dict[str, Any]) -> Sequence[Any]:
    """Mark up to BATCH targets and return them; the WHERE is checked again on the rows
    themselves, so a target another process took meanwhile is not taken twice."""
    ids = select(_T.id).where(where).limit(BATCH).scalar_subquery()
    result = await conn.execute(
        update(sla_targets).where(_T.id.in_(ids), where).values(values).returning(*_CLAIMED)
    )
    return result.all()


async def _teams_of(conn: AsyncConnection, rows: Sequence[Any]) -> dict[int, str]:
    ids = sorted({r.ticket_id for r in rows})
    found = await conn.execute(select(tickets.c.id, tickets.c.team_id).where(tickets.c.id.in_(ids)))
    return {r.id: r.team_id for r in found}


async def _timeline(conn: AsyncConnection, rows: Sequence[Any], what: str, now: datetime) -> None:
    await conn.execute(
        sla_events.insert(),
        [
            {
                "ticket_id": r.ticket_id,
                "at": now,
                "what": what,
                "detail": f"{label(r.kind, r.cycle)} {what} (due {r.due_at:%Y-%m-%d %H:%M} UTC)",
            }
            for r in rows
        ],
    )
