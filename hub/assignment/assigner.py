"""Rounds of automatic assignment: for tickets ingest has just opened (in its transaction),
and periodically for tickets still waiting or held by agents away too long."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.assignment.availability import Member, team_members
from hub.assignment.policy import ONLINE, Candidate, Waiting, plan
from hub.assignment.records import (
    Busy,
    due_dates,
    inactive_usernames,
    lock_agents,
    lock_free,
    lock_pointer,
    move_pointer,
    open_loads,
    waiting_tickets,
    write_assignments,
)
from hub.config.agents import AgentsConfig
from hub.config.assignment import DEFAULT_CAPACITY, AssignMode, Team
from hub.sla.calendar import Calendar
from hub.store import Store, utcnow

log = logging.getLogger(__name__)

# How often waiting tickets are looked at again: soon for a ticket ingest could not place
# (another process held the team), well inside any sensible reassign_after.
ROUND_EVERY = timedelta(seconds=10)


@dataclass(frozen=True)
class TeamRule:
    mode: AssignMode
    reassign_after: timedelta
    # Outside its open hours the team's agents count as off.
    calendar: Calendar | None = None


@dataclass(frozen=True)
class AgentTerms:
    """What the config says an agent takes; agents made by the CLI get the defaults."""

    capacity: int = DEFAULT_CAPACITY
    languages: frozenset[str] | None = None
    channels: frozenset[str] | None = None


def agent_terms(config: AgentsConfig) -> dict[str, AgentTerms]:
    return {
        a.username: AgentTerms(
            a.capacity,
            None if a.skills.languages is None else frozenset(a.skills.languages),
            None if a.skills.channels is None else frozenset(a.skills.channels),
        )
        for a in config.accounts
    }


def team_rules(teams: Sequence[Team], calendars: Mapping[str, Calendar]) -> dict[str, TeamRule]:
    """The teams with automatic assignment (the config checks their calendars exist)."""
    return {
        t.id: TeamRule(t.assign, t.reassign_after, calendars[t.calendar] if t.calendar else None)
        for t in teams
        if t.assign != "manual"
    }


class Assigner:
    def __init__(
        self,
        store: Store,
        rules: Mapping[str, TeamRule],
        terms: Mapping[str, AgentTerms],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.rules = dict(rules)
        self.terms = dict(terms)
        self.clock = clock

    @property
    def active(self) -> bool:
        return bool(self.rules)

    async def assign_opened(
        self, conn: AsyncConnection, opened: Sequence[tuple[str, Waiting]], now: datetime
    ) -> int:
        """Place tickets just opened (team id, ticket) in the caller's transaction, so a
        ticket is never seen unassigned by a team that assigns automatically."""
        mine = [(team_id, t) for team_id, t in opened if team_id in self.rules]
        if not mine:
            return 0
        # Deadlines set earlier in the batch (the SLA step) order them too.
        due = await due_dates(conn, [t.id for _team, t in mine])
        by_team: dict[str, list[Waiting]] = {}
        for team_id, ticket in mine:
            by_team.setdefault(team_id, []).append(replace(ticket, due_at=due.get(ticket.id)))
        placed = 0
        for team_id in sorted(by_team):
            try:
                placed += await self._round(conn, team_id, now, by_team[team_id])
            except Busy:
                # Another process is placing this team's tickets: the periodic round
                # places these (they are committed unassigned, never lost).
                continue
        return placed

    async def run_once(self) -> int:
        """One periodic round: each automatic team in its own short transaction."""
        placed = 0
        for team_id in sorted(self.rules):
            async with self.store.write() as conn:
                placed += await self._round(conn, team_id, self.clock(), None)
        if placed:
            log.info("assignment round placed=%d", placed)
        return placed

    async def _round(
        self,
        conn: AsyncConnection,
        team_id: str,
        now: datetime,
        fresh: Sequence[Waiting] | None,
    ) -> int:
        rule = self.rules[team_id]
        reason = "waiting" if fresh is None else "opened"
        wait = fresh is None
        pointer = await lock_pointer(self.store, conn, team_id, now, wait=wait)
        members = await team_members(conn, team_id)
        locked = await lock_agents(conn, [m.agent_id for m in members], wait=wait)
        # An agent another round holds takes no ticket from this one.
        members = [m for m in members if m.agent_id in locked]
        # Read after the locks: another process's round that held them has committed.
        loads = await open_loads(conn, [m.username for m in members])
        candidates = [self._candidate(m, loads.get(m.username, 0), rule, now) for m in members]
        if not any(c.available and c.load < c.capacity for c in candidates):
            return 0
        if fresh is None:
            stale = [m.username for m in members if _away_too_long(m, rule, now)]
            stale += await inactive_usernames(conn)
            fresh = await lock_free(conn, await waiting_tickets(conn, team_id, stale))
        decided = plan(rule.mode, fresh, candidates, pointer)
        if not decided.assignments:
            return 0
        by_id = {t.id: t for t in fresh}
        placed = await write_assignments(
            conn,
            team_id,
            [(by_id[tid], username) for tid, username in decided.assignments],
            reason,
            now,
        )
        await move_pointer(conn, team_id, decided.pointer, now)
        return placed

    def _candidate(self, m: Member, load: int, rule: TeamRule, now: datetime) -> Candidate:
        terms = self.terms.get(m.username, AgentTerms())
        working = rule.calendar is None or rule.calendar.is_open(now)
        return Candidate(
            m.username,
            load,
            terms.capacity,
            m.availability.value == ONLINE and working,
            terms.languages,
            terms.channels,
        )


def _away_too_long(m: Member, rule: TeamRule, now: datetime) -> bool:
    """Went away or off at least the team's `reassign_after` ago. An agent who never set
    their availability went nowhere: what they picked up by hand stays theirs."""
    a = m.availability
    return a.value != ONLINE and a.since is not None and now - a.since >= rule.reassign_after
