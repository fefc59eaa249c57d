"""Support agents: who they are, what they may see, their passwords (argon2), config sync."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.agents import AgentsConfig, Role
from hub.store import CONFIG_SYNC, Store, utcnow
from hub.store.schema import agent_teams, agents, teams

# OWASP's argon2id minimum (19 MiB, 2 passes): ~0.1 s on a small server. Verifying reads the
# parameters from each hash, so hashes made with other settings keep working.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so both cases cost the same time."""
    return _HASHER.hash("no such agent: constant-time filler")


class UnknownTeam(ValueError):
    """An agent was put in a team the config does not define."""


@dataclass(frozen=True)
class Actor:
    """Who is acting: an agent (inbox session or agent token) or an integration token."""

    kind: str  # agent | integration
    username: str
    name: str
    role: Role
    teams: frozenset[str]
    agent_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can_see_team(self, team_id: str) -> bool:
        return self.is_admin or team_id in self.teams

    @property
    def sees_reports(self) -> bool:
        """Team leads (of their teams) and admins; agents do not."""
        return self.role in ("lead", "admin")

    @property
    def report_teams(self) -> frozenset[str] | None:
        """The teams whose reports the actor may see; None: every team."""
        return None if self.is_admin else self.teams


def integration_actor(name: str) -> Actor:
    # Integration tokens come from the operator's config: they act for the whole hub.
    return Actor("integration", f"integration:{name}", name, "admin", frozenset(), None)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


async def verify_password(encoded: str | None, password: str) -> bool:
    """argon2 costs ~50 ms of CPU on purpose: run it off the event loop."""

    def check() -> bool:
        try:
            return _HASHER.verify(encoded or _dummy_hash(), password) and encoded is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


async def load_actor(conn: AsyncConnection, agent_id: int) -> Actor | None:
    row = (
        await conn.execute(select(agents).where(agents.c.id == agent_id, agents.c.active.is_(True)))
    ).first()
    if row is None:
        return None
    team_rows = await conn.execute(
        select(agent_teams.c.team_id).where(agent_teams.c.agent_id == agent_id)
    )
    return Actor(
        "agent",
        row.username,
        row.display_name,
        row.role,
        frozenset(t for (t,) in team_rows),
        row.id,
    )


async def find_login(conn: AsyncConnection, username: str) -> tuple[int | None, str | None]:
    """(agent id, password hash) of an active agent, or (None, None)."""
    row = (
        await conn.execute(
            select(agents.c.id, agents.c.password_hash).where(
                agents.c.username == username, agents.c.active.is_(True)
            )
        )
    ).first()
    return (row.id, row.password_hash) if row else (None, None)


async def agent_usernames(conn: AsyncConnection, team_id: str | None = None) -> list[str]:
    """Active agents, optionally those who may work on `team_id`'s tickets (admins may)."""
    query = select(agents.c.username, agents.c.role, agents.c.id).where(agents.c.active.is_(True))
    rows = (await conn.execute(query.order_by(agents.c.username))).all()
    if team_id is None:
        return [r.username for r in rows]
    members = {
        a
        for (a,) in await conn.execute(
            select(agent_teams.c.agent_id).where(agent_teams.c.team_id == team_id)
        )
    }
    return [r.username for r in rows if r.role == "admin" or r.id in members]


@dataclass(frozen=True)
class AgentProfile:
    """One agent account as the config or the CLI gives it, password aside."""

    username: str
    name: str
    email: str | None
    role: Role
    team_ids: tuple[str, ...]
    source: str  # config | cli: a config account that left the config is deactivated


async def upsert_agent(
    conn: AsyncConnection,
    profile: AgentProfile,
    password_hash: str | None,
    *,
    keep_password: bool = False,
) -> int:
    """Create or update one agent and replace their team membership."""
    wanted = sorted(set(profile.team_ids))
    known = {t for (t,) in await conn.execute(select(teams.c.id))}
    missing = [t for t in wanted if t not in known]
    if missing:
        raise UnknownTeam(f"no team {', '.join(map(repr, missing))} (teams: {sorted(known)})")
    now = utcnow()
    values: dict[str, Any] = {
        "display_name": profile.name,
        "email": profile.email,
        "role": profile.role,
        "source": profile.source,
        "active": True,
        "updated_at": now,
    }
    if not keep_password:
        values["password_hash"] = password_hash
    existing = (
        await conn.execute(select(agents.c.id).where(agents.c.username == profile.username))
    ).scalar_one_or_none()
    if existing is None:
        agent_id = (
            await conn.execute(
                agents.insert()
                .values(
                    username=profile.username, created_at=now, **{"password_hash": None, **values}
                )
                .returning(agents.c.id)
            )
        ).scalar_one()
    else:
        agent_id = existing
        await conn.execute(update(agents).where(agents.c.id == agent_id).values(**values))
        await conn.execute(delete(agent_teams).where(agent_teams.c.agent_id == agent_id))
    for team_id in wanted:
        await conn.execute(agent_teams.insert().values(agent_id=agent_id, team_id=team_id))
    return int(agent_id)


async def sync_agents(store: Store, config: AgentsConfig) -> None:
    """Mirror config accounts into the table; a config account that left is deactivated."""
    async with store.write_in_turn(CONFIG_SYNC) as conn:
        current = {
            r.username: r
            for r in await conn.execute(
                select(agents.c.username, agents.c.password_hash, agents.c.source)
            )
        }
        for account in config.accounts:
            stored = current.get(account.username)
            keep = False
            new_hash: str | None = None
            if account.password_hash is not None:
                new_hash = account.password_hash.get_secret_value()
            elif account.password is not None:
                # Re-hashing on every start would change the hash each time: keep a match.
                keep = stored is not None and await verify_password(
                    stored.password_hash, account.password.get_secret_value()
                )
                if not keep:
                    new_hash = await asyncio.to_thread(
                        hash_password, account.password.get_secret_value()
                    )
            profile = AgentProfile(
                account.username,
                account.name,
                account.email,
                account.role,
                tuple(account.teams),
                source="config",
            )
            await upsert_agent(conn, profile, new_hash, keep_password=keep)
        gone = [
            u
            for u, r in current.items()
            if r.source == "config" and u not in {a.username for a in config.accounts}
        ]
        if gone:
            await conn.execute(
                update(agents).where(agents.c.username.in_(gone)).values(active=False)
            )
