"""Teams come from config; the table mirrors it so tickets can reference them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.loader import Team
from hub.store.engine import CONFIG_SYNC, Store
from hub.store.schema import agent_teams, agents, teams


@dataclass(frozen=True)
class TeamMembers:
    id: str
    name: str
    # Usernames of the team's active agents, in order.
    agents: list[str]


async def sync_teams(store: Store, wanted: list[Team]) -> None:
    async with store.write_in_turn(CONFIG_SYNC) as conn:
        existing = {r.id: r.name for r in await conn.execute(select(teams.c.id, teams.c.name))}
        for team in wanted:
            if team.id not in existing:
                await conn.execute(teams.insert().values(id=team.id, name=team.name))
            elif existing[team.id] != team.name:
                await conn.execute(
                    update(teams).where(teams.c.id == team.id).values(name=team.name)
                )


async def team_names(conn: AsyncConnection) -> dict[str, str]:
    return {r.id: r.name for r in await conn.execute(select(teams.c.id, teams.c.name))}


async def team_name(conn: AsyncConnection, team_id: str) -> str:
    return str((await conn.execute(select(teams.c.name).where(teams.c.id == team_id))).scalar_one())


async def team_exists(conn: AsyncConnection, team_id: str) -> bool:
    return (await conn.execute(select(teams.c.id).where(teams.c.id == team_id))).first() is not None


async def teams_with_members(conn: AsyncConnection) -> list[TeamMembers]:
    """Every team, by id, with its active agents."""
    rows = (await conn.execute(select(teams).order_by(teams.c.id))).all()
    members = (
        await conn.execute(
            select(agent_teams.c.team_id, agents.c.username)
            .join(agents, agents.c.id == agent_teams.c.agent_id)
            .where(agents.c.active.is_(True))
            .order_by(agents.c.username)
        )
    ).all()
    return [
        TeamMembers(t.id, t.name, [m.username for m in members if m.team_id == t.id]) for t in rows
    ]
