"""The schema: migrations match the models on both dialects, and start-up migrates and
mirrors the config safely when several processes start at once."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from hub.agents.accounts import sync_agents
from hub.agents.teams import sync_teams
from hub.store import Store, utcnow
from hub.store.migrate import alembic_config
from hub.store.schema import (
    agent_teams,
    agents,
    canned_responses,
    metadata,
    teams,
    webhook_endpoints,
)
from hub.tickets.canned import sync_canned
from hub.webhooks.endpoints import sync_config_endpoints
from tests.support import ROOT, base_config, make_config
from tests.webhook_support import endpoint_config


def _diff(sync_conn: Any) -> list[Any]:
    ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, metadata))


async def test_migrations_produce_exactly_the_schema(empty_storage_url: str) -> None:
    store = Store(empty_storage_url)
    try:
        await store.migrate()
        async with store.engine.connect() as conn:
            diff = await conn.run_sync(_diff)
    finally:
        await store.close()
    assert diff == []


MIGRATE = (
    "import asyncio, sys; from hub.store import Store; asyncio.run(Store(sys.argv[1]).migrate())"
)


async def test_concurrent_startups_migrate_once(empty_storage_url: str) -> None:
    """Several hub processes starting at once on one database: one migrates, none fails."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            MIGRATE,
            empty_storage_url,
            cwd=ROOT,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    results = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [r[1][-500:] for r in results]
    store = Store(empty_storage_url)
    try:
        async with store.read() as conn:
            version = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).all()
    finally:
        await store.close()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert [v[0] for v in version] == [head]


async def test_concurrent_startups_sync_the_config_once(pg_url: str) -> None:
    """Hub processes started together on a fresh database each mirror the config's teams,
    agents, canned responses and webhook endpoints into it: one inserts, the others find
    the rows, and none fails on a duplicate (PostgreSQL: on SQLite writers queue anyway)."""
    data = base_config(pg_url, webhooks=[endpoint_config("http://127.0.0.1:9/hook")])
    data["agents"] = {
        "accounts": [
            {"username": u, "name": u.title(), "teams": ["support", "billing"]}
            for u in ("alice", "bob", "carol")
        ],
        "canned_responses": [{"name": "thanks", "body": "Thank you!"}],
    }
    config = make_config(data)
    stores = [Store(pg_url) for _ in range(3)]
    try:
        await stores[0].migrate()
        for s in stores:
            await s.ping()  # connected: a connect's delay would keep them apart by chance
        now = utcnow()
        await asyncio.gather(*(sync_teams(s, config.teams) for s in stores))
        await asyncio.gather(*(sync_agents(s, config.agents) for s in stores))
        await asyncio.gather(*(sync_canned(s, config.agents.canned_responses) for s in stores))
        await asyncio.gather(*(sync_config_endpoints(s, config.webhooks, now) for s in stores))
        async with stores[0].read() as conn:
            counts = {
                t.name: (await conn.execute(select(func.count()).select_from(t))).scalar_one()
                for t in (teams, agents, agent_teams, canned_responses, webhook_endpoints)
            }
    finally:
        for s in stores:
            await s.close()
    assert counts == {
        "teams": 2,
        "agents": 3,
        "agent_teams": 6,
        "canned_responses": 1,
        "webhook_endpoints": 1,
    }
