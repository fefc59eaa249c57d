"""What goes wrong with mail, and what it means to the hub, in one place.

Parsing: the input cannot become a message, and goes to the quarantine with the reason.
IMAP (imapclient): a refused login disables the connector, anything else reconnects later.
SMTP (aiosmtplib): a refused login disables the connector, a 5xx for the recipients or the
data dead-letters the message, anything else retries.
"""

from __future__ import annotations

import imaplib
import ssl

import aiosmtplib
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.util import to_bytes

from hub.connector import ConnectorAuthError, PermanentSendError


class MailParseError(ValueError):
    """This input cannot become a message; the text says why (it goes to the quarantine)."""


class MailUnusable(MailParseError):
    """Parsed, but nothing the hub can ticket (no sender to answer or file it under)."""


class ImapAuthError(Exception):
    """The server refused the credentials."""


class ImapUnavailable(Exception):
    """The server is unreachable, went away, or answered nonsense: reconnect later."""


# What imapclient and the stdlib under it raise for a lost or confused connection.
IMAP_FAILURES = (OSError, IMAPClientError, imaplib.IMAP4.error, ssl.SSLError)


def login_failure(exc: BaseException) -> ImapAuthError | ImapUnavailable:
    """The session's exception for one of IMAP_FAILURES while connecting and logging in."""
    if isinstance(exc, LoginError):
        return ImapAuthError(imap_text(exc))
    return imap_unavailable(exc)


def imap_unavailable(exc: BaseException) -> ImapUnavailable:
    """The session's exception for one of IMAP_FAILURES on a logged-in connection."""
    return ImapUnavailable(f"{exc.__class__.__name__}: {imap_text(exc)}")


def imap_text(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], bytes):
        return to_bytes(args[0]).decode("utf-8", "replace")
    return str(exc)


def smtp_outcome(exc: aiosmtplib.SMTPException) -> Exception | None:
    """The hub's exception for an SMTP failure, or None: the outbox retries it as it is."""
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return ConnectorAuthError(f"SMTP login refused: {exc.code}")
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        if exc.code == 530:
            # "Authentication required": wrong for every message, not this one.
            return ConnectorAuthError(f"SMTP relay requires a login: {exc.code}")
        return None
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        if codes and all(500 <= c < 600 for c in codes):
            return PermanentSendError(f"recipient refused: {codes}")
        return None
    if isinstance(exc, aiosmtplib.SMTPDataError) and 500 <= exc.code < 600:
        return PermanentSendError(f"message refused: {exc.code} {exc.message}")
    return None
