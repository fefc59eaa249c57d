"""Agents' availability (online, away, off), set by the agent in the inbox or the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.assignment.policy import AVAILABILITIES, OFF
from hub.store import Store
from hub.store.schema import agent_availability, agent_teams, agents


class UnknownAvailability(ValueError):
    """Not one of online, away, off."""


@dataclass(frozen=True)
class Availability:
    value: str  # online | away | off
    since: datetime | None  # None: never set (off from the start)


@dataclass(frozen=True)
class Member:
    agent_id: int
    username: str
    availability: Availability


async def set_availability(store: Store, agent_id: int, value: str, now: datetime) -> Availability:
    """Record the agent's availability; `since` moves only when it changes."""
    if value not in AVAILABILITIES:
        raise UnknownAvailability(f"availability must be one of {', '.join(AVAILABILITIES)}")
    async with store.write() as conn:
        await conn.execute(
            store.insert(agent_availability)
            .values(agent_id=agent_id, availability=value, since=now)
            .on_conflict_do_nothing(index_elements=["agent_id"])
        )
        await conn.execute(
            update(agent_availability)
            .where(
                agent_availability.c.agent_id == agent_id,
                agent_availability.c.availability != value,
            )
            .values(availability=value, since=now)
        )
        return await availability_of(conn, agent_id)


async def availability_of(conn: AsyncConnection, agent_id: int) -> Availability:
    row = (
        await conn.execute(
            select(agent_availability.c.availability, agent_availability.c.since).where(
                agent_availability.c.agent_id == agent_id
            )
        )
    ).first()
    return Availability(row.availability, row.since) if row else Availability(OFF, None)


async def team_members(conn: AsyncConnection, team_id: str) -> list[Member]:
    """The team's active agents with their availability, by username."""
    rows = (
        await conn.execute(
            select(
                agents.c.id,
                agents.c.username,
                agent_availability.c.availability,
                agent_availability.c.since,
            )
            .join(agent_teams, agent_teams.c.agent_id == agents.c.id)
            .outerjoin(agent_availability, agent_availability.c.agent_id == agents.c.id)
            .where(agent_teams.c.team_id == team_id, agents.c.active.is_(True))
            .order_by(agents.c.username)
        )
    ).all()
    return [Member(r.id, r.username, Availability(r.availability or OFF, r.since)) for r in rows]
