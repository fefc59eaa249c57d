"""Who gets which ticket: pure functions over the waiting tickets and the team's agents.

The database side (hub.assignment.assigner) reads the facts under locks, calls `plan`, and
writes what it returns; everything that decides lives here and is table-tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from hub.config.assignment import AssignMode

ONLINE, AWAY, OFF = "online", "away", "off"
AVAILABILITIES = (ONLINE, AWAY, OFF)


@dataclass(frozen=True)
class Candidate:
    """An agent of the team as the round sees them."""

    username: str
    load: int  # open tickets assigned to them, in every team
    capacity: int
    available: bool  # online, and the team's calendar (if any) is open
    # None: every language / channel (no skills configured for that kind).
    languages: frozenset[str] | None = None
    channels: frozenset[str] | None = None

    def can_take(self, ticket: Waiting) -> bool:
        return (
            self.available
            and self.load < self.capacity
            and ticket.assignee != self.username
            and (self.languages is None or ticket.language in self.languages)
            and (self.channels is None or ticket.channel in self.channels)
        )


@dataclass(frozen=True)
class Waiting:
    """A ticket to place: unassigned, or held by an agent who has been away too long."""

    id: int
    language: str
    channel: str
    created_at: datetime
    due_at: datetime | None = None  # the nearest SLA deadline
    assignee: str | None = None  # set for a reassignment: never back to them


@dataclass(frozen=True)
class Plan:
    # (ticket id, username), in the order they were decided.
    assignments: list[tuple[int, str]] = field(default_factory=list)
    # The agent who got the last ticket: round robin continues after them next time.
    pointer: str | None = None


def by_urgency(tickets: Sequence[Waiting]) -> list[Waiting]:
    """Nearest SLA deadline first; tickets without one after those, oldest first."""
    return sorted(
        tickets,
        key=lambda t: (t.due_at is None, t.due_at or t.created_at, t.created_at, t.id),
    )


def _rotation(agents: Sequence[Candidate], pointer: str | None) -> list[int]:
    """Indexes of `agents` (sorted by username) in round robin order after `pointer`."""
    names = [a.username for a in agents]
    start = 0
    if pointer is not None:
        # The first agent after the pointer by name, so a pointer whose agent left the
        # team still continues where the rotation was.
        start = next((i for i, n in enumerate(names) if n > pointer), 0)
    return [(start + k) % len(names) for k in range(len(names))]


def _pick(mode: AssignMode, agents: list[Candidate], order: list[int], ticket: Waiting) -> int:
    """The index of the agent who gets `ticket`, or -1 if none can take it."""
    able = [i for i in order if agents[i].can_take(ticket)]
    if not able:
        return -1
    if mode == "least_loaded":
        # min() keeps the first of equals: ties go in round robin order.
        return min(able, key=lambda i: agents[i].load)
    return able[0]


def plan(
    mode: AssignMode,
    tickets: Sequence[Waiting],
    agents: Sequence[Candidate],
    pointer: str | None,
) -> Plan:
    """Place tickets, most urgent first, on agents who can take them.

    round_robin: the next able agent after the last one who got a ticket; least_loaded:
    the able agent with the fewest open tickets (ties in round robin order). A ticket no
    agent can take (all away, at capacity, or without the skill) stays where it is.
    """
    if mode == "manual" or not agents:
        return Plan([], pointer)
    pool = sorted(agents, key=lambda a: a.username)
    out: list[tuple[int, str]] = []
    for ticket in by_urgency(tickets):
        chosen = _pick(mode, pool, _rotation(pool, pointer), ticket)
        if chosen < 0:
            continue
        agent = pool[chosen]
        pool[chosen] = replace(agent, load=agent.load + 1)
        pointer = agent.username
        out.append((ticket.id, agent.username))
    return Plan(out, pointer)
