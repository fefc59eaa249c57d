"""The schema: migrations match the models on both dialects, and start-up migrates safely."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from hub.store import Store
from hub.store.migrate import alembic_config
from hub.store.schema import metadata
from tests.support import ROOT


def _diff(sync_conn: Any) -> list[Any]:
    ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, metadata))


async def test_migrations_produce_exactly_the_schema(storage_url: str) -> None:
    store = Store(storage_url)
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


async def test_concurrent_startups_migrate_once(storage_url: str) -> None:
    """Several hub processes starting at once on one database: one migrates, none fails."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", MIGRATE, storage_url, cwd=ROOT, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(3)
    ]
    results = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [r[1][-500:] for r in results]
    store = Store(storage_url)
    try:
        async with store.read() as conn:
            version = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).all()
    finally:
        await store.close()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert [v[0] for v in version] == [head]
