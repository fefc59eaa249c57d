"""Alembic migrations, applied at start; several processes starting at once take turns."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.ext.asyncio import AsyncEngine

# Any fixed number: the PostgreSQL advisory lock that serializes migrations.
_MIGRATION_LOCK = 0x6875625F6D6967  # "hub_mig"


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "hub.store:migrations")
    return cfg


# Alembic keeps its context in module globals: one migration at a time per process.
_in_process = asyncio.Lock()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with _in_process, engine.connect() as conn:
        conn = await conn.execution_options(hub_write=True)
        if engine.dialect.name == "postgresql":
            await conn.exec_driver_sql(f"SELECT pg_advisory_lock({_MIGRATION_LOCK})")
        try:
            await conn.run_sync(_run_upgrade, revision)
            await conn.commit()
        finally:
            if engine.dialect.name == "postgresql":
                await conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_MIGRATION_LOCK})")
                await conn.commit()


def _run_upgrade(sync_conn: Any, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, revision)
