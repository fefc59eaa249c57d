from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.migrated import copy_sqlite
from tests.support import SmtpSink, pg_database, require_postgresql

# The throwaway Dovecot server fixtures (`dovecot`, `dovecot_server`).
pytest_plugins = ("tests.dovecot",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The heaviest first: one left for last would keep a worker busy after the other ends.
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


@pytest.fixture(params=["sqlite", "postgresql"])
async def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each storage test runs on SQLite and on PostgreSQL, each in a database of its own,
    at the schema's head (tests.migrated)."""
    if request.param == "sqlite":
        path = tmp_path / "hub.db"
        await copy_sqlite(path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    await require_postgresql()
    async with pg_database(migrated=True) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """As storage_url, but an empty database: for the migrations' own tests."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
        return
    await require_postgresql()
    async with pg_database() as url:
        yield url


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A database of its own on PostgreSQL, for what only PostgreSQL does (several hub
    processes on one database, LISTEN/NOTIFY, a network to lose), at the schema's head."""
    await require_postgresql()
    async with pg_database(migrated=True) as url:
        yield url


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    # Hostile input (lone surrogates) ends up in captured logs; a report must still be
    # writable as UTF-8, which pytest-xdist does to send it from its worker.
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    report.sections = [
        (title, text.encode("utf-8", "backslashreplace").decode("utf-8"))
        for title, text in report.sections
    ]
