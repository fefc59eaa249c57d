"""Storage that cannot be written while the hub runs (a read-only database file, a full
disk): posts get 503, /healthz says storage `error` with the reason, the log names it,
hub_errors_total counts it; once the fault is gone both recover and nothing is lost."""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from hub.app import Hub
from hub.store.schema import messages
from tests.support import SmtpSink, base_config, hub_running, hub_url, make_config


async def _post(http: aiohttp.ClientSession, hub: Hub, text: str) -> int:
    fields = {"email": "ann@example.com", "message": text}
    async with http.post(hub_url(hub, "/channels/contact/"), json=fields) as resp:
        return resp.status


async def _health(http: aiohttp.ClientSession, hub: Hub) -> tuple[int, dict[str, Any]]:
    async with http.get(hub_url(hub, "/healthz")) as resp:
        return resp.status, await resp.json()


async def _posts_stored(hub: Hub) -> list[str]:
    query = select(messages.c.body_text).where(messages.c.body_text.like("% the fault"))
    async with hub.store.read() as conn:
        return list((await conn.execute(query.order_by(messages.c.id))).scalars())


@contextlib.asynccontextmanager
async def _hub(db: Path, smtp: SmtpSink) -> AsyncIterator[tuple[Hub, aiohttp.ClientSession]]:
    config = make_config(base_config(f"sqlite+aiosqlite:///{db}", smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        yield hub, http


async def _fault_and_recover(
    hub: Hub,
    http: aiohttp.ClientSession,
    fault: contextlib.AbstractContextManager[None],
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await _post(http, hub, "before the fault") in (200, 201)
    assert (await _health(http, hub))[1]["storage"] == "ok"
    with fault:
        assert await _post(http, hub, "during the fault") == 503
        status, body = await _health(http, hub)
        assert status == 503, body
        assert body["storage"] == "error" and reason in body["storage_error"], body
        logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert any(f"reason={reason}" in m for m in logged), logged
        assert any(f"cannot be written: {reason}" in m for m in logged), logged
        errors = hub.metrics.registry.get_sample_value("hub_errors_total", {"where": "storage"})
        assert errors is not None and errors >= 2  # the refused post and the health probe
    status, body = await _health(http, hub)
    assert (status, body["storage"]) == (200, "ok"), body
    assert await _post(http, hub, "after the fault") in (200, 201)
    # Both acknowledged posts, nothing of the refused one.
    assert await _posts_stored(hub) == ["before the fault", "after the fault"]


@contextlib.contextmanager
def _immutable(*files: Path) -> Iterator[None]:
    """The files made read-only for every process, root too (chattr +i); their open
    descriptors refuse writes as well, as a file on a read-only mount does."""
    done = subprocess.run(["chattr", "+i", *map(str, files)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, files)], check=True)


async def test_read_only_database_file(
    tmp_path: Path, smtp: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr (e2fsprogs) is not installed: cannot make a file read-only for root")
    db = tmp_path / "hub.db"
    async with _hub(db, smtp) as (hub, http):
        # The database and its write-ahead log; not the shared-memory index SQLite maps.
        fault = _immutable(db, db.with_name("hub.db-wal"))
        await _fault_and_recover(hub, http, fault, "write failed", caplog)


@contextlib.contextmanager
def _small_filesystem(where: Path) -> Iterator[Path]:
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@contextlib.contextmanager
def _filled(where: Path) -> Iterator[None]:
    filler = where / "filler"
    with filler.open("wb") as f:
        chunk = b"\0" * 65536
        with contextlib.suppress(OSError):  # ENOSPC: the filesystem is full
            while True:
                f.write(chunk)
                f.flush()
    try:
        yield
    finally:
        filler.unlink()


async def test_full_disk(tmp_path: Path, smtp: SmtpSink, caplog: pytest.LogCaptureFixture) -> None:
    with _small_filesystem(tmp_path / "small") as small:
        async with _hub(small / "hub.db", smtp) as (hub, http):
            await _fault_and_recover(hub, http, _filled(small), "disk full", caplog)
