"""The config of the email connectors: SMTP out, .eml files out, IMAP in."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from connectors.email.relay import MailRules
from hub.connector import ConnectorConfig

# RFC 2177: servers may drop an IDLE after 30 minutes; clients re-issue it before 29.
IDLE_LIMIT_SECONDS = 29 * 60


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


class MailFileConfig(ConnectorConfig):
    type: Literal["mailfile"]
    directory: str = "data/sent-mail"
    from_address: str
    from_name: str | None = None
    reply_to: str | None = None


class ImapConfig(ConnectorConfig):
    type: Literal["imap"]
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    username: str
    password: SecretStr
    folder: str = "INBOX"
    # What to do with a message once the hub committed it: flag it \Seen, move it, or leave it.
    after_import: str = Field(default="seen", pattern=r"^(seen|leave|move:.+)$")
    idle: bool = True
    idle_renew_seconds: float = Field(default=600.0, gt=0, le=IDLE_LIMIT_SECONDS)
    poll_interval_seconds: float = Field(default=60.0, gt=0)
    batch_size: int = Field(default=100, ge=1, le=1000)
    max_message_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_attachment_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    timeout_seconds: float = Field(default=30.0, gt=0)
    lease_seconds: float = Field(default=60.0, ge=3)
    reconnect_max_delay_seconds: float = Field(default=60.0, gt=0)
    # The operator's own groups and lists (a Google Group in front of the mailbox): their
    # mail is filed under its author (X-Original-Sender, or Reply-To of a "Jane via Group"
    # From), and their list headers do not stop the acknowledgement. Empty: the author is
    # taken wherever the headers name one, and list mail is still never answered.
    groups: list[str] = Field(default_factory=list)
    # Senders never answered automatically, as glob patterns ("*@alerts.example.com"),
    # besides no-reply, mailer-daemon and postmaster addresses, which never are.
    no_reply_senders: list[str] = Field(default_factory=list)

    def mail_rules(self) -> MailRules:
        return MailRules(frozenset(g.lower() for g in self.groups), tuple(self.no_reply_senders))

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)
