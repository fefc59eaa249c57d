"""Databases for tests already at the schema's head: migrated once per run and copied for
each test (a PostgreSQL database made from a template, an SQLite file copied), instead of
every test running every migration (~0.65 s on PostgreSQL, ~0.3 s on SQLite, for some
1,200 tests). The template's name carries a digest of the migrations, so a new migration
makes a new one. Tests of the migrations themselves take empty databases."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
from alembic import command

from hub.store import Store
from hub.store.migrate import alembic_config

_VERSIONS = Path(__file__).resolve().parent.parent / "hub" / "store" / "migrations" / "versions"
_ATTEMPTS = 50


def _digest() -> str:
    h = hashlib.sha256()
    for path in sorted(_VERSIONS.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


_TEMPLATE = f"hub_tpl_{_digest()}"
_SQLITE = "sqlite+aiosqlite:///"
_sqlite_made: Path | None = None
_pg_ready = False


async def _migrate(url: str) -> None:
    store = Store(url)
    try:
        await store.migrate()
    finally:
        await store.close()


async def _sqlite_template() -> Path:
    global _sqlite_made
    if _sqlite_made is None:
        folder = Path(tempfile.mkdtemp(prefix="hub_tpl_"))
        atexit.register(shutil.rmtree, folder, True)
        template = folder / "hub.db"
        await _migrate(f"{_SQLITE}{template}")
        _sqlite_made = template
    return _sqlite_made


async def copy_sqlite(path: Path) -> None:
    """`path` becomes an SQLite database at the head (this process's template, copied)."""
    # Closed after migrating: its WAL is checkpointed into the file, which is all of it.
    shutil.copyfile(await _sqlite_template(), path)


def start_from_template(url: str) -> None:
    """A test config's SQLite file that does not exist yet starts as a copy of the
    template (tests.support.base_config): the hub finds it at the head, as it would
    after its first start."""
    if not url.startswith(_SQLITE):
        return
    path = Path(url.removeprefix(_SQLITE))
    # Only a test's own folder: a relative name (a config never opened) stays untouched.
    if not path.is_absolute() or path.exists() or not path.parent.is_dir():
        return
    template = _sqlite_made
    if template is None:
        # Called from inside a test's event loop: the template is made in a thread's own.
        with ThreadPoolExecutor(1) as pool:
            template = pool.submit(asyncio.run, _sqlite_template()).result()
    # A folder the test made unwritable: the hub's own start is to find and say so.
    with contextlib.suppress(OSError):
        shutil.copyfile(template, path)


async def create_pg(admin: asyncpg.Connection, name: str, base_url: str) -> None:
    """Database `name`, made from the migrated template (built first if missing: by one
    test process at a time, under an advisory lock; stale templates dropped)."""
    global _pg_ready
    if not _pg_ready:
        await admin.execute("SELECT pg_advisory_lock(hashtext($1))", _TEMPLATE)
        try:
            exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", _TEMPLATE)
            if not exists:
                building = f"{_TEMPLATE}_new"
                await admin.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
                await admin.execute(f'CREATE DATABASE "{building}"')
                await _migrate(f"{base_url}/{building}")
                await _retried(admin, f'ALTER DATABASE "{building}" RENAME TO "{_TEMPLATE}"')
                stale = await admin.fetch(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'hub\\_tpl\\_%'"
                    " AND datname <> $1",
                    _TEMPLATE,
                )
                for row in stale:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{row[0]}" WITH (FORCE)')
        finally:
            await admin.execute("SELECT pg_advisory_unlock(hashtext($1))", _TEMPLATE)
        _pg_ready = True
    await _retried(admin, f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATE}"')


async def _retried(admin: asyncpg.Connection, sql: str) -> None:
    """`sql` on a database someone may still be on: another test process copying the
    template at the same instant, or the migration's own connection not yet gone."""
    for attempt in range(_ATTEMPTS):
        try:
            await admin.execute(sql)
            return
        except asyncpg.ObjectInUseError:
            if attempt == _ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.05)


async def downgrade(store: Store, revision: str) -> None:
    """`store`'s schema taken back to `revision` (a migration's downgrade, tested)."""

    def run(sync_conn: object) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.downgrade(cfg, revision)

    async with store.engine.connect() as conn:
        await conn.run_sync(run)
        await conn.commit()
