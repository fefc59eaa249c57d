"""Outbound email over SMTP (aiosmtplib): TLS, STARTTLS or plain."""

from __future__ import annotations

import asyncio

import aiosmtplib
from aiohttp import web

from connectors.email.compose import compose, message_id_for
from connectors.email.errors import smtp_outcome
from connectors.email.settings import SmtpConfig
from hub.connector import HubContext, PermanentSendError
from hub.messages import OutboundMessage

# After the relay accepted a message we still say QUIT, but never wait long for it.
QUIT_TIMEOUT_SECONDS = 5.0


class SmtpConnector:
    def __init__(self, config: SmtpConfig, ctx: HubContext) -> None:
        self.config = config
        self.ctx = ctx
        self.domain = config.message_id_domain or config.from_address.rpartition("@")[2]
        self._quitting: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Nothing to hold open: each send connects, so a relay restart costs nothing."""

    async def stop(self) -> None:
        if self._quitting:
            await asyncio.gather(*self._quitting, return_exceptions=True)

    def web_app(self) -> web.Application | None:
        return None

    async def send(self, msg: OutboundMessage) -> str:
        cfg = self.config
        try:
            mail = compose(
                msg,
                from_address=cfg.from_address,
                from_name=cfg.from_name,
                reply_to=cfg.reply_to,
                domain=self.domain,
            )
        except (ValueError, TypeError) as exc:
            # Nothing a retry could change (no email address, a header that cannot be sent).
            raise PermanentSendError(f"cannot compose the email: {exc}") from exc
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            use_tls=cfg.security == "tls",
            start_tls=cfg.security == "starttls",
            username=cfg.username,
            password=cfg.password.get_secret_value() if cfg.password else None,
            timeout=cfg.timeout_seconds,
        )
        try:
            await client.connect()
            await client.send_message(mail)
        except aiosmtplib.SMTPException as exc:
            client.close()
            outcome = smtp_outcome(exc)
            if outcome is None:
                raise
            raise outcome from exc
        except BaseException:
            client.close()
            raise
        # The relay has taken responsibility for the message: report success now, so the
        # outbox marks it sent without waiting for QUIT. Every moment between the relay's
        # "250" and that mark is a moment in which a crash would send it a second time.
        task = asyncio.create_task(_quit(client))
        self._quitting.add(task)
        task.add_done_callback(self._quitting.discard)
        return message_id_for(msg, self.domain)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit(timeout=QUIT_TIMEOUT_SECONDS)
    except (aiosmtplib.SMTPException, OSError):
        pass
    finally:
        client.close()
