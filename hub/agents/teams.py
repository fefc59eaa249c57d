"""Teams come from config; the table mirrors it so tickets can reference them."""

from __future__ import annotations

from sqlalchemy import select, update

from hub.config.loader import Team
from hub.store.engine import Store
from hub.store.schema import teams


async def sync_teams(store: Store, wanted: list[Team]) -> None:
    async with store.write() as conn:
        existing = {r.id: r.name for r in await conn.execute(select(teams.c.id, teams.c.name))}
        for team in wanted:
            if team.id not in existing:
                await conn.execute(teams.insert().values(id=team.id, name=team.name))
            elif existing[team.id] != team.name:
                await conn.execute(
                    update(teams).where(teams.c.id == team.id).values(name=team.name)
                )
