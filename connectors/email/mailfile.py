"""Outbound email written to .eml files: the demo's mail relay, and a developer's."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from aiohttp import web

from connectors.email.compose import compose, message_id_for
from connectors.email.settings import MailFileConfig
from hub.connector import HubContext
from hub.messages import OutboundMessage


class MailFileConnector:
    def __init__(self, config: MailFileConfig, ctx: HubContext) -> None:
        self.config = config
        self.ctx = ctx
        self.dir = Path(config.directory)
        self.domain = config.from_address.rpartition("@")[2]

    async def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)

    async def stop(self) -> None:
        pass

    def web_app(self) -> web.Application | None:
        return None

    async def send(self, msg: OutboundMessage) -> str:
        mail = compose(
            msg,
            from_address=self.config.from_address,
            from_name=self.config.from_name,
            reply_to=self.config.reply_to,
            domain=self.domain,
        )
        # Named by the idempotency key: a retry rewrites the same file, never a second one.
        target = self.dir / f"{msg.idempotency_key}.eml"
        await asyncio.to_thread(_write_atomically, target, bytes(mail))
        return message_id_for(msg, self.domain)


def _write_atomically(target: Path, data: bytes) -> None:
    tmp = target.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
