"""`hub serve` that cannot start says so in one line (what, where, the fix), exits 1 for
the environment, and prints no traceback (that takes --debug)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT, base_config, free_port


def _serve(tmp_path: Path, storage_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    target = tmp_path / "hub.yaml"
    target.write_text(yaml.safe_dump(base_config(storage_url)))
    return subprocess.run(
        [sys.executable, "-m", "hub", "serve", str(target), *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "HUB_LOG_LEVEL": "WARNING"},
    )


def _operator_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("hub serve: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return lines[0]


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody can write in, root included (chattr +i)."""
    data = tmp_path / "data"
    data.mkdir()
    done = subprocess.run(["chattr", "+i", str(data)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {done.stderr.strip()}")
    yield data
    subprocess.run(["chattr", "-i", str(data)], check=True)


@pytest.mark.parametrize("inside", ["hub.db", "sub/hub.db"])
def test_an_unwritable_data_directory(tmp_path: Path, unwritable_dir: Path, inside: str) -> None:
    db = unwritable_dir / inside
    proc = _serve(tmp_path, f"sqlite+aiosqlite:///{db}")
    assert proc.returncode == 1, proc.stderr
    line = _operator_line(proc.stderr)
    assert f"storage unavailable at {db}" in line
    assert "make the directory writable" in line


def test_postgresql_with_nothing_listening(tmp_path: Path) -> None:
    port = free_port()
    proc = _serve(tmp_path, f"postgresql+asyncpg://postgres@127.0.0.1:{port}/hub")
    assert proc.returncode == 1, proc.stderr
    line = _operator_line(proc.stderr)
    assert f"storage unavailable at 127.0.0.1:{port}/hub: connection refused" in line
    assert "start PostgreSQL" in line


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    port = free_port()
    proc = _serve(tmp_path, f"postgresql+asyncpg://postgres@127.0.0.1:{port}/hub", "--debug")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "hub serve: storage unavailable" in proc.stderr
