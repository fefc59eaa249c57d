"""Outbound email over SMTP (aiosmtplib): TLS, STARTTLS or plain."""

from __future__ import annotations

from typing import Literal

import aiosmtplib
from aiohttp import web
from pydantic import Field, SecretStr

from connectors.email.compose import compose, message_id_for
from hub.connector import (
    ConnectorAuthError,
    ConnectorConfig,
    ConnectorType,
    HubContext,
    PermanentSendError,
)
from hub.messages import OutboundMessage


class SmtpConfig(ConnectorConfig):
    type: Literal["smtp"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str
    from_name: str | None = None
    reply_to: str | None = None
    # Domain of our Message-IDs; defaults to the from address's domain.
    message_id_domain: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)


class SmtpConnector:
    def __init__(self, config: SmtpConfig, ctx: HubContext) -> None:
        self.config = config
        self.ctx = ctx
        self.domain = config.message_id_domain or config.from_address.rpartition("@")[2]

    async def start(self) -> None:
        """Nothing to hold open: each send connects, so a relay restart costs nothing."""

    async def stop(self) -> None:
        pass

    def web_app(self) -> web.Application | None:
        return None

    async def send(self, msg: OutboundMessage) -> str:
        cfg = self.config
        mail = compose(
            msg,
            from_address=cfg.from_address,
            from_name=cfg.from_name,
            reply_to=cfg.reply_to,
            domain=self.domain,
        )
        try:
            await aiosmtplib.send(
                mail,
                hostname=cfg.host,
                port=cfg.port,
                use_tls=cfg.security == "tls",
                start_tls=cfg.security == "starttls",
                username=cfg.username,
                password=cfg.password.get_secret_value() if cfg.password else None,
                timeout=cfg.timeout_seconds,
            )
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise ConnectorAuthError(f"SMTP login refused: {exc.code}") from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if codes and all(500 <= c < 600 for c in codes):
                raise PermanentSendError(f"recipient refused: {codes}") from exc
            raise
        return message_id_for(msg, self.domain)


CONNECTOR_TYPE = ConnectorType(
    name="smtp", config_model=SmtpConfig, create=SmtpConnector, can_receive=False
)
