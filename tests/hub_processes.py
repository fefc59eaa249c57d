"""`hub serve` as child processes, for the tests that need real OS processes: a hub killed
outright (SIGKILL), or several hubs on one PostgreSQL database racing each other for the
same rows."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.support import ROOT, free_port


class HubProcess:
    """`python -m hub serve CONFIG` as a child process; killed for sure on the way out."""

    def __init__(self, config_file: Path, log_file: Path, port: int) -> None:
        self.config_file = config_file
        self.log_file = log_file
        self.port = port
        self.proc: asyncio.subprocess.Process | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        log = await asyncio.to_thread(self.log_file.open, "ab")
        with log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "hub",
                "serve",
                str(self.config_file),
                cwd=ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        await self.wait_healthy()

    async def wait_healthy(self, timeout: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                assert self.proc is not None
                if self.proc.returncode is not None:
                    raise AssertionError(f"the hub exited ({self.proc.returncode}):\n{self.log()}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(self.url("/healthz")) as resp:
                        body = await resp.json()
                        if resp.status == 200 and body["status"] == "ok":
                            return
                if loop.time() > deadline:
                    raise AssertionError(f"the hub did not become healthy:\n{self.log()}")
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL, at once (no await: called the moment the Nth response is read)."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)

    async def stop(self) -> None:
        """SIGTERM and wait; SIGKILL if it does not go. Safe to call in any state."""
        if self.proc is None:
            return
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=15)
            except TimeoutError:
                self.kill()
        await self.proc.wait()

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"


def hub_process(tmp_path: Path, name: str, data: dict[str, Any]) -> HubProcess:
    """A hub serving the config `data` (as tests.support.base_config makes it) on a port of
    its own; its YAML and its log go under `tmp_path` as `name`.yaml and `name`.log."""
    port = free_port()
    web = {**data.get("web", {}), "host": "127.0.0.1", "port": port}
    web["public_url"] = f"http://127.0.0.1:{port}"
    config_file = tmp_path / f"{name}.yaml"
    config_file.write_text(yaml.safe_dump({**data, "web": web}), encoding="utf-8")
    return HubProcess(config_file, tmp_path / f"{name}.log", port)
