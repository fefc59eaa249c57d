"""`hub agents add | list | token | hash-password`: support agents outside the config file."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from sqlalchemy import select

from hub.agents.accounts import AgentProfile, UnknownTeam, hash_password, upsert_agent
from hub.agents.auth import create_api_token
from hub.agents.teams import sync_teams
from hub.cli.common import DEFAULT_CONFIG, SubParsers, with_config
from hub.config.agents import USERNAME_PATTERN
from hub.connector import ConnectorRegistry
from hub.store import Store
from hub.store.schema import agent_teams, agents


def add_agents_cli(sub: SubParsers, registry: ConnectorRegistry) -> None:
    p = sub.add_parser("agents", help="support agents: add, list, API tokens")
    asub = p.add_subparsers(dest="agents_command", required=True)
    q = asub.add_parser("add", help="add or update an agent (password read from stdin or tty)")
    q.add_argument("username")
    q.add_argument("--name", required=True)
    q.add_argument("--email")
    q.add_argument("--role", choices=["agent", "lead", "admin"], default="agent")
    q.add_argument("--team", action="append", default=[], help="a team id; repeat for more")
    q.add_argument("--no-password", action="store_true", help="API tokens only, no inbox login")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q = asub.add_parser("list", help="agents and their teams")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q = asub.add_parser("token", help="create an API bearer token for an agent (shown once)")
    q.add_argument("username")
    q.add_argument("--name", default="cli", help="what the token is for")
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q = asub.add_parser("hash-password", help="print an argon2 hash for agents.accounts[]")
    p.set_defaults(run=lambda args: run_agents_command(args, registry))


def run_agents_command(args: argparse.Namespace, registry: ConnectorRegistry) -> int:
    if args.agents_command == "hash-password":
        password = _read_password()
        if password is None:
            return 1
        print(hash_password(password))
        return 0
    return with_config(
        args.config,
        registry,
        lambda config: asyncio.run(_run(config.storage.url, config.teams, args)),
    )


async def _run(url: str, teams: list, args: argparse.Namespace) -> int:  # type: ignore[type-arg]
    store = Store(url)
    try:
        await store.migrate()
        await sync_teams(store, teams)
        if args.agents_command == "add":
            return await _add(store, args)
        if args.agents_command == "token":
            async with store.write() as conn:
                try:
                    token = await create_api_token(conn, args.username, args.name)
                except LookupError as exc:
                    print(exc, file=sys.stderr)
                    return 1
            print(token)
            return 0
        async with store.read() as conn:
            rows = (await conn.execute(select(agents).order_by(agents.c.username))).all()
            membership = (await conn.execute(select(agent_teams))).all()
        for r in rows:
            team_ids = ",".join(sorted(m.team_id for m in membership if m.agent_id == r.id))
            state = "" if r.active else "  (inactive)"
            print(f"{r.username:<20} {r.role:<6} {r.source:<7} teams={team_ids or '-'}{state}")
        return 0
    finally:
        await store.close()


async def _add(store: Store, args: argparse.Namespace) -> int:
    import re

    if not re.fullmatch(USERNAME_PATTERN, args.username):
        print("usernames are lower-case letters, digits, '.', '_' or '-'", file=sys.stderr)
        return 2
    password_hash = None
    if not args.no_password:
        password = _read_password()
        if password is None:
            return 1
        password_hash = await asyncio.to_thread(hash_password, password)
    try:
        async with store.write() as conn:
            profile = AgentProfile(
                args.username, args.name, args.email, args.role, tuple(args.team), source="cli"
            )
            await upsert_agent(conn, profile, password_hash)
    except UnknownTeam as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"agent {args.username} saved ({args.role}, teams: {', '.join(args.team) or 'none'})")
    return 0


def _read_password() -> str | None:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return None
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 10:
        print("passwords must be at least 10 characters", file=sys.stderr)
        return None
    return password
