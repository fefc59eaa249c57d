"""Inbox sessions and per-agent API tokens: random secrets handed out once, SHA-256 at rest."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.agents.accounts import Actor, find_login, load_actor, verify_password
from hub.store import Store, utcnow
from hub.store.schema import agent_sessions, agent_tokens, agents

TOKEN_PREFIX = "hubagent_"


def digest(secret: str) -> str:
    # The secrets are 256 random bits: a fast hash is enough, no password stretching needed.
    return hashlib.sha256(secret.encode()).hexdigest()


async def check_login(store: Store, username: str, password: str) -> int | None:
    """The agent id when `password` is the active agent's, else None.

    The password is verified whether or not the agent exists (an unknown one against a
    dummy hash): a log-in costs the same either way, so timing does not tell who has an
    account. The hash is read first and verified outside the transaction.
    """
    async with store.read() as conn:
        agent_id, encoded = await find_login(conn, username)
    verified = await verify_password(encoded, password)
    return agent_id if verified and agent_id is not None else None


@dataclass(frozen=True)
class Session:
    actor: Actor
    csrf_token: str


async def create_session(conn: AsyncConnection, agent_id: int, hours: float) -> tuple[str, str]:
    """A new session; returns (cookie value, CSRF token). Expired sessions are swept here."""
    now = utcnow()
    await conn.execute(delete(agent_sessions).where(agent_sessions.c.expires_at < now))
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    await conn.execute(
        agent_sessions.insert().values(
            token_hash=digest(token),
            agent_id=agent_id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    return token, csrf


async def load_session(conn: AsyncConnection, token: str) -> Session | None:
    if not token or len(token) > 100:
        return None
    row = (
        await conn.execute(
            select(agent_sessions.c.agent_id, agent_sessions.c.csrf_token).where(
                agent_sessions.c.token_hash == digest(token),
                agent_sessions.c.expires_at > utcnow(),
            )
        )
    ).first()
    if row is None:
        return None
    actor = await load_actor(conn, row.agent_id)
    return Session(actor, row.csrf_token) if actor is not None else None


async def end_session(conn: AsyncConnection, token: str) -> None:
    await conn.execute(delete(agent_sessions).where(agent_sessions.c.token_hash == digest(token)))


async def create_api_token(conn: AsyncConnection, username: str, name: str) -> str:
    """A new bearer token for an agent; shown once, only its hash is kept."""
    agent_id = (
        await conn.execute(select(agents.c.id).where(agents.c.username == username))
    ).scalar_one_or_none()
    if agent_id is None:
        raise LookupError(f"no agent {username!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await conn.execute(
        agent_tokens.insert().values(
            agent_id=agent_id, name=name, token_hash=digest(token), created_at=utcnow()
        )
    )
    return token


async def token_actor(conn: AsyncConnection, token: str) -> Actor | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    agent_id = (
        await conn.execute(
            select(agent_tokens.c.agent_id).where(agent_tokens.c.token_hash == digest(token))
        )
    ).scalar_one_or_none()
    return await load_actor(conn, agent_id) if agent_id is not None else None
