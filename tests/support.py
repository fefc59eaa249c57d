"""Shared test helpers: configs, a loopback SMTP server, PostgreSQL databases, hubs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from aiohttp import web
from aiosmtpd.controller import Controller

from hub.app import Hub, running_hub
from hub.config.loader import Config, parse_config
from hub.connector import ConnectorRegistry

ROOT = Path(__file__).resolve().parent.parent
PG_DSN = os.environ.get("HUB_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REGISTRY = ConnectorRegistry.discover()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_config(storage_url: str, smtp_port: int | None = None, **overrides: Any) -> dict[str, Any]:
    """A complete config as data: webform `contact` replying via SMTP `mail`. An SQLite
    file not made yet starts from the migrated template (tests.migrated)."""
    from tests.migrated import start_from_template

    start_from_template(storage_url)
    data: dict[str, Any] = {
        "hub": {
            "default_locale": "en",
            "locales": ["en", "bn"],
            "timezone": "Asia/Dhaka",
            "phone_region": "BD",
        },
        "storage": {"url": storage_url},
        "web": {"host": "127.0.0.1", "port": 0, "public_url": "http://127.0.0.1"},
        "api": {"tokens": [{"name": "tests", "token": "test-token-0123456789"}]},
        "teams": [
            {"id": "support", "name": "General support"},
            {"id": "billing", "name": "Billing"},
        ],
        "routing": {
            "fallback_team": "support",
            "rules": [
                {
                    "name": "billing",
                    "match": {"body": r"(?i)\b(invoice|refund)\b"},
                    "set": {"team": "billing", "priority": "high", "tags": ["billing"]},
                }
            ],
        },
        "replies": {"templates_dir": str(ROOT / "templates"), "signature": "The test team"},
        "outbox": {
            "max_attempts": 4,
            "base_delay_seconds": 0.05,
            "max_delay_seconds": 0.2,
            "lease_seconds": 5,
            "poll_seconds": 0.05,
        },
        "connectors": [
            {
                "id": "contact",
                "type": "webform",
                "reply_via": "mail",
                "posts_per_minute": 100000,
                "burst": 100000,
            },
            {
                "id": "mail",
                "type": "smtp",
                "host": "127.0.0.1",
                "port": smtp_port or 1,
                "security": "none",
                "from_address": "support@example.org",
                "from_name": "Example support",
                "timeout_seconds": 5,
            },
        ],
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def make_config(data: dict[str, Any]) -> Config:
    return parse_config(yaml.safe_dump(data, allow_unicode=True), "test.yaml", REGISTRY)


@dataclass
class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    _controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(
            message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)  # type: ignore[arg-type]
        )
        return "250 OK"

    def start(self, port: int | None = None) -> SmtpSink:
        self.port = port or self.port or free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[EmailMessage]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.messages) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"expected {count} mails, got {len(self.messages)}")
            await asyncio.sleep(0.05)
        return self.messages


async def pg_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        conn = await asyncpg.connect(PG_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {PG_DSN} is unreachable: {exc}"
    await conn.close()
    return None


async def require_postgresql() -> None:
    """Skip a PostgreSQL test when the server is unreachable, except in CI, where it fails:
    a CI run that skipped them would pass without having run them."""
    problem = await pg_available()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{problem}; CI must run the PostgreSQL tests")
    pytest.skip(problem)


@contextlib.asynccontextmanager
async def pg_database(migrated: bool = False) -> AsyncIterator[str]:
    """A fresh database for one test, empty or (`migrated`) at the schema's head; dropped
    afterwards. Yields its SQLAlchemy URL."""
    from tests.migrated import create_pg

    name = f"hub_t_{uuid.uuid4().hex[:12]}"
    base = PG_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    admin = await asyncpg.connect(PG_DSN)
    try:
        if migrated:
            await create_pg(admin, name, base)
        else:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(PG_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@contextlib.asynccontextmanager
async def hub_running(config: Config) -> AsyncIterator[Hub]:
    hub, task = await running_hub(config, REGISTRY)
    try:
        yield hub
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def walk_routes(app: web.Application) -> Iterator[tuple[str, str]]:
    """(method, path template) of every route of the app and its sub-apps, HEAD aside."""
    for resource in app.router.resources():
        sub = getattr(resource, "_app", None)
        if isinstance(sub, web.Application):
            yield from walk_routes(sub)
            continue
        for route in resource:
            if route.method != "HEAD":
                yield route.method, resource.canonical


def hub_url(hub: Hub, path: str = "/") -> str:
    return f"http://127.0.0.1:{hub.port}{path}"


class FreezingProxy:
    """A TCP relay to PostgreSQL that can stop relaying on the connections it holds, as a
    dead network does (nothing is closed, nothing arrives); new connections still relay."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._frozen: list[asyncio.Event] = []
        self.port = 0

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    def freeze(self) -> None:
        for event in self._frozen:
            event.set()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        frozen = asyncio.Event()
        self._frozen.append(frozen)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                if frozen.is_set():
                    await asyncio.Event().wait()  # swallowed: the peer hears nothing
                dst.write(data)
                await dst.drain()

        with contextlib.suppress(Exception):
            await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
