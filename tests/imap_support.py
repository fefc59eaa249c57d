"""Helpers for the IMAP tests: a hub config reading a Dovecot mailbox, mails, waits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select

from hub.app import Hub
from hub.store.schema import connector_state, messages, outbox
from tests.dovecot import Dovecot
from tests.support import SmtpSink, base_config, make_config


def imap_config_data(
    storage_url: str,
    smtp: SmtpSink,
    server: Dovecot,
    user: str,
    *,
    hub: dict[str, Any] | None = None,
    **imap: Any,
) -> dict[str, Any]:
    """The test config, as data, with an IMAP connector `inbox` on `user`'s mailbox; `hub`
    overrides top-level sections (e.g. replies)."""
    data = base_config(storage_url, smtp.port, **(hub or {}))
    data["connectors"].append(
        {
            "id": "inbox",
            "type": "imap",
            "host": "127.0.0.1",
            "port": server.port,
            "security": "none",
            "username": user,
            "password": "secret",
            "reply_via": "mail",
            "idle_renew_seconds": 60,
            "poll_interval_seconds": 1,
            "timeout_seconds": 5,
            **imap,
        }
    )
    return data


def imap_config(
    storage_url: str,
    smtp: SmtpSink,
    server: Dovecot,
    user: str,
    *,
    hub: dict[str, Any] | None = None,
    **imap: Any,
) -> Any:
    return make_config(imap_config_data(storage_url, smtp, server, user, hub=hub, **imap))


def mail(n: int, sender: str | None = None, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Ann Customer <{sender or f'customer{n}@example.com'}>"
    msg["To"] = "support@example.test"
    msg["Subject"] = f"Order {n} is late"
    msg["Message-ID"] = f"<order-{n}@example.com>"
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(f"Hello, order {n} has not arrived yet.\n")
    return bytes(msg).replace(b"\n", b"\r\n")


async def wait_until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await asyncio.wait_for(check(), timeout)
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting; last result {result!r}")
        await asyncio.sleep(0.05)


async def inbound_count(hub: Hub) -> int:
    async with hub.store.read() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count()).select_from(messages).where(messages.c.direction == "in")
                )
            ).scalar_one()
        )


def acks_sent(hub: Hub, n: int) -> Callable[[], Any]:
    """Sent and marked so: a hub stopped before the mark would rightly send it again."""

    async def check() -> bool:
        async with hub.store.read() as conn:
            sent = (
                await conn.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.status == "sent")
                )
            ).scalar_one()
        return int(sent) >= n

    return check


def checkpoint_at(hub: Hub, last_uid: int, uidvalidity: int | None = None) -> Callable[[], Any]:
    """The connector's checkpoint once it reached `last_uid` (every message before is settled)."""

    async def check() -> Any:
        async with hub.store.read() as conn:
            value = (
                await conn.execute(
                    select(connector_state.c.value).where(connector_state.c.key == "sync:INBOX")
                )
            ).scalar()
        if not value or value["last_uid"] < last_uid:
            return None
        return value if uidvalidity in (None, value["uidvalidity"]) else None

    return check


def count_at_least(hub: Hub, n: int) -> Callable[[], Any]:
    async def check() -> bool:
        return await inbound_count(hub) >= n

    return check


async def connector_running(hub: Hub) -> bool:
    return hub.supervisors["inbox"].status.state == "running"
