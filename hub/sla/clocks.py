"""The clocks of tickets, moved where things happen, in the transaction of the change.

- first response: from the ticket's opening (in a live chat that is the bot's hand-over)
  to the first reply of a human agent. Acknowledgements, the bot, greetings, campaigns and
  notes are not replies: only hub.actions.reply calls `agent_replied`.
- next response: a cycle per customer message that waits for an answer, from the oldest
  unanswered one to the next human reply; none opens before the first response is given
  (that one covers the customer's early messages), none stays open once the ticket is
  solved or closed.
- resolution: from the opening to solved or closed, paused in the pause statuses; a
  reopened ticket resumes it.
- a change of priority, team or tags re-evaluates the policy (`reevaluate`).

A breached target stays breached; an answer given after the deadline is recorded beside it.
`tickets.sla_due_at` is kept at the nearest deadline not yet met.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.sla.deadline import ClockState, label, schedule, spent
from hub.sla.policy import Applied, SlaRules, Target, TicketFacts
from hub.sla.rows import (
    OPEN_TARGET,
    STOPPED,
    answered_once,
    log_events,
    refresh_due,
    targets_of,
)
from hub.store import utcnow
from hub.store.schema import customers, sla_targets, tickets

_T = sla_targets.c
DONE_STATUSES = ("solved", "closed")


@dataclass(frozen=True)
class Opened:
    ticket_id: int
    facts: TicketFacts
    at: datetime


def _seconds(d: timedelta) -> float:
    return d.total_seconds()


class SlaClocks:
    """Every clock change, given the rules; a hub with no policies does nothing here."""

    def __init__(self, rules: SlaRules, clock: Callable[[], datetime] = utcnow) -> None:
        self.rules = rules
        # The time agents' actions happen at; tests move it instead of waiting.
        self.clock = clock

    # ---- opening -------------------------------------------------------------------

    async def opened(self, conn: AsyncConnection, opened: Sequence[Opened], now: datetime) -> None:
        """First response and resolution of tickets just opened."""
        if not self.rules.enabled or not opened:
            return
        rows: list[dict[str, Any]] = []
        log: list[tuple[int, str, str]] = []
        for o in opened:
            applied = self.rules.apply(o.facts)
            if applied is None:
                continue
            for kind in ("first_response", "resolution"):
                target = applied.targets.get(kind)
                if target is not None:
                    rows.append(self._new_row(o.ticket_id, o.facts.team, applied, target, 1, o.at))
            log.append((o.ticket_id, "policy", f"policy {applied.policy} applies"))
        if rows:
            await conn.execute(sla_targets.insert(), rows)
        await log_events(conn, log, now)
        await refresh_due(conn, sorted({r["ticket_id"] for r in rows}))

    def _new_row(
        self, ticket_id: int, team: str, applied: Applied, target: Target, cycle: int, at: datetime
    ) -> dict[str, Any]:
        state = ClockState(target.duration, timedelta(0), at, target.calendar)
        notifying = self.rules.notifying(applied.policy, team)
        return {
            "ticket_id": ticket_id,
            "kind": target.kind,
            "cycle": cycle,
            "policy": applied.policy,
            "calendar": target.calendar.name,
            "target_seconds": int(_seconds(target.duration)),
            "started_at": at,
            "running_since": at,
            "consumed_seconds": 0.0,
            "status": "pending",
            **schedule(state, notifying, self.rules.warn_before, warned=False),
        }

    # ---- messages and replies ----------------------------------------------------------

    async def customer_wrote(
        self, conn: AsyncConnection, ticket_ids: Sequence[int], now: datetime
    ) -> None:
        """A customer message on tickets that were open already: a next-response cycle
        starts where the first response is given and no cycle waits yet."""
        if not self.rules.enabled or not ticket_ids:
            return
        found = (
            await conn.execute(
                select(tickets.c.id, tickets.c.status, tickets.c.team_id, tickets.c.priority).where(
                    tickets.c.id.in_(sorted(set(ticket_ids))),
                    tickets.c.status.not_in(DONE_STATUSES),
                )
            )
        ).all()
        if not found:
            return
        targets = await targets_of(conn, [t.id for t in found])
        rows: list[dict[str, Any]] = []
        for t in found:
            mine = targets.get(t.id, [])
            if not mine or not answered_once(mine):
                continue  # no policy, or the first response still covers this message
            cycles = [r for r in mine if r.kind == "next_response"]
            if any(r.achieved_at is None and r.status in ("pending", "breached") for r in cycles):
                continue  # the oldest unanswered message already started the cycle
            applied = self.rules.applied_policy(mine[0].policy, t.priority)
            target = applied.targets.get("next_response") if applied else None
            if applied is None or target is None:
                continue
            cycle = max((r.cycle for r in cycles), default=0) + 1
            rows.append(self._new_row(t.id, t.team_id, applied, target, cycle, now))
        if rows:
            await conn.execute(sla_targets.insert(), rows)
            await refresh_due(conn, [r["ticket_id"] for r in rows])

    async def agent_replied(self, conn: AsyncConnection, ticket_id: int, now: datetime) -> None:
        """A human agent answered: first response, or the waiting next-response cycle."""
        if not self.rules.enabled:
            return
        rows = (
            await conn.execute(
                select(sla_targets).where(
                    _T.ticket_id == ticket_id,
                    _T.kind.in_(("first_response", "next_response")),
                    OPEN_TARGET,
                )
            )
        ).all()
        log = []
        for r in rows:
            late = r.status == "breached" or (r.due_at is not None and r.due_at < now)
            values: dict[str, Any] = {**STOPPED, "achieved_at": now}
            if late:
                del values["due_at"]  # the deadline it missed stays on record
                values["status"] = "breached"
                values["breached_at"] = r.breached_at or r.due_at
            else:
                values["status"] = "achieved"
            await conn.execute(update(sla_targets).where(_T.id == r.id).values(values))
            what = "answered late" if late else "achieved"
            log.append((ticket_id, what, f"{label(r.kind, r.cycle)} {what}"))
        await log_events(conn, log, now)
        await refresh_due(conn, [ticket_id])

    # ---- status ------------------------------------------------------------------

    async def status_changed(
        self, conn: AsyncConnection, ticket_ids: Sequence[int], now: datetime
    ) -> None:
        """The tickets' statuses were written: resolution stops at solved or closed, pauses
        in a pause status, runs otherwise (a reopened ticket resumes it); response clocks
        end at solved or closed. Idempotent: a ticket whose clocks agree is left alone."""
        if not self.rules.enabled or not ticket_ids:
            return
        targets = await targets_of(conn, ticket_ids)
        log: list[tuple[int, str, str]] = []
        for ticket_id, rows in targets.items():
            for r in rows:
                change = self._on_status(r, r.ticket_status, now)
                if change is None:
                    continue
                values, what = change
                await conn.execute(update(sla_targets).where(_T.id == r.id).values(values))
                if what:
                    log.append((ticket_id, what, f"{label(r.kind, r.cycle)} {what}"))
        await log_events(conn, log, now)
        if log:
            await refresh_due(conn, list(targets))

    def _on_status(self, r: Any, status: str, now: datetime) -> tuple[dict[str, Any], str] | None:
        if r.status == "cancelled":
            return None
        if r.kind != "resolution":
            if status in DONE_STATUSES and r.status == "pending":
                return {**STOPPED, "status": "cancelled"}, "ended: ticket " + status
            return None
        calendar = self.rules.calendar(r.calendar)
        consumed = r.consumed_seconds + _seconds(spent(calendar, r.running_since, now))
        if status in DONE_STATUSES:
            if r.achieved_at is not None:
                return None
            breached = r.status == "breached" or (r.due_at is not None and r.due_at < now)
            values = {**STOPPED, "consumed_seconds": consumed, "achieved_at": now}
            values["status"] = "breached" if breached else "achieved"
            if breached:
                values["breached_at"] = r.breached_at or r.due_at
                del values["due_at"]  # a reopened ticket is overdue from here on
            return values, "resolved late" if breached else "achieved"
        if status in self.rules.pause_statuses:
            if r.running_since is None or r.status != "pending":
                return None
            values = {**STOPPED, "consumed_seconds": consumed, "paused_since": now}
            return values, "paused"
        # An open status: resume a paused clock, or reopen a stopped one.
        if r.running_since is not None:
            return None
        values = {"running_since": now, "paused_since": None, "achieved_at": None}
        if r.status == "achieved":
            values["status"] = "pending"
        if values.get("status", r.status) == "pending":
            values.update(self._reschedule(r, consumed=r.consumed_seconds, since=now))
        return values, "resumed"

    def _reschedule(self, r: Any, *, consumed: float, since: datetime) -> dict[str, Any]:
        team = getattr(r, "team_id", None) or ""
        state = ClockState(
            timedelta(seconds=r.target_seconds),
            timedelta(seconds=consumed),
            since,
            self.rules.calendar(r.calendar),
        )
        notifying = self.rules.notifying(r.policy, team)
        return schedule(state, notifying, self.rules.warn_before, warned=r.warned_at is not None)

    # ---- re-evaluation ------------------------------------------------------------

    async def reevaluate(
        self, conn: AsyncConnection, ticket_id: int, why: str, now: datetime
    ) -> None:
        """Priority, team or tags changed: the policy that applies now sets the targets,
        counted from each clock's original start; recorded on the ticket's SLA timeline."""
        if not self.rules.enabled:
            return
        t = (
            await conn.execute(
                select(tickets, customers.c.tags.label("customer_tags"))
                .join(customers, customers.c.id == tickets.c.customer_id)
                .where(tickets.c.id == ticket_id)
            )
        ).one()
        facts = TicketFacts(
            t.channel,
            t.connector_id,
            t.team_id,
            t.priority,
            frozenset(t.tags or ()),
            frozenset(t.customer_tags or ()),
        )
        applied = self.rules.apply(facts)
        rows = (await targets_of(conn, [ticket_id])).get(ticket_id, [])
        changes: list[str] = []
        for r in rows:
            if r.achieved_at is not None or r.status != "pending":
                continue  # met, breached or ended: history, not re-judged
            target = applied.targets.get(r.kind) if applied else None
            if target is None:
                await conn.execute(
                    update(sla_targets).where(_T.id == r.id).values(**STOPPED, status="cancelled")
                )
                changes.append(f"{label(r.kind, r.cycle)} no longer applies")
                continue
            assert applied is not None
            values = self._retarget(r, applied, target, t.team_id)
            if values:
                await conn.execute(update(sla_targets).where(_T.id == r.id).values(values))
                due = values.get("due_at")
                shown = f"due {due:%Y-%m-%d %H:%M} UTC" if due else "paused"
                changes.append(f"{label(r.kind, r.cycle)} {shown}")
        if applied is not None:
            changes += await self._add_missing(conn, t, applied, rows)
        if changes:
            policy = applied.policy if applied else "none"
            detail = f"{why}: policy {policy}; " + "; ".join(changes)
            await log_events(conn, [(ticket_id, "reevaluated", detail[:300])], now)
            await refresh_due(conn, [ticket_id])

    def _retarget(self, r: Any, applied: Applied, target: Target, team: str) -> dict[str, Any]:
        seconds = int(_seconds(target.duration))
        same = (
            r.policy == applied.policy
            and r.target_seconds == seconds
            and r.calendar == target.calendar.name
        )
        if same:
            return {}
        values: dict[str, Any] = {
            "policy": applied.policy,
            "target_seconds": seconds,
            "calendar": target.calendar.name,
        }
        state = ClockState(
            target.duration,
            timedelta(seconds=r.consumed_seconds),
            r.running_since,
            target.calendar,
        )
        notifying = self.rules.notifying(applied.policy, team)
        values.update(
            schedule(state, notifying, self.rules.warn_before, warned=r.warned_at is not None)
        )
        return values

    async def _add_missing(
        self, conn: AsyncConnection, t: Any, applied: Applied, rows: Sequence[Any]
    ) -> list[str]:
        """Clocks the new policy has and the old did not, from the ticket's opening."""
        kinds = {r.kind for r in rows}
        new: list[dict[str, Any]] = []
        answered = answered_once(rows) if rows else False
        for kind in ("first_response", "resolution"):
            target = applied.targets.get(kind)
            if target is None or kind in kinds or t.status in DONE_STATUSES:
                continue
            if kind == "first_response" and (answered or "next_response" in kinds):
                continue
            row = self._new_row(t.id, t.team_id, applied, target, 1, t.created_at)
            if kind == "resolution" and t.status in self.rules.pause_statuses:
                # Counted as running since the opening; it pauses from here on.
                row.update(
                    running_since=None,
                    due_at=None,
                    warn_at=None,
                    breach_notify_at=None,
                    paused_since=t.updated_at,
                )
            new.append(row)
        if new:
            await conn.execute(sla_targets.insert(), new)
        return [f"{label(r['kind'], 1)} starts" for r in new]


NO_CLOCKS = SlaClocks(SlaRules.none())
"""For callers given no rules (a hub without policies has the same): no clock moves."""
