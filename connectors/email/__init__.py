"""Email: outbound over SMTP (and to .eml files, for demos and development), inbound over
IMAP, sharing the mail parser and composer."""

from connectors.email.cli import add_email_cli
from connectors.email.imap import ImapConnector
from connectors.email.mailfile import MailFileConnector
from connectors.email.settings import ImapConfig, MailFileConfig, SmtpConfig
from connectors.email.smtp import SmtpConnector
from hub.connector import ConnectorType

SMTP = ConnectorType(
    name="smtp",
    config_model=SmtpConfig,
    create=SmtpConnector,
    can_receive=False,
    sends_to=("email",),
)

MAILFILE = ConnectorType(
    name="mailfile",
    config_model=MailFileConfig,
    create=MailFileConnector,
    can_receive=False,
    sends_to=("email",),
)

IMAP = ConnectorType(
    name="imap",
    config_model=ImapConfig,
    create=ImapConnector,
    can_send=False,
    channels=("email",),
    add_cli=add_email_cli,
    threads_by="reference",
)

CONNECTOR_TYPES = (SMTP, MAILFILE, IMAP)

__all__ = ["CONNECTOR_TYPES", "IMAP", "MAILFILE", "SMTP"]
