"""Each connector package's errors.py: the channel library's exceptions onto the core's
outcomes (disable, retry, dead-letter), checked without a server."""

from __future__ import annotations

import aiohttp
import aiosmtplib
import pytest
from imapclient.exceptions import LoginError
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError

from connectors.email.errors import (
    ImapAuthError,
    ImapUnavailable,
    imap_unavailable,
    login_failure,
    smtp_outcome,
)
from connectors.meta.errors import GraphError, start_failure
from connectors.telegram import errors as telegram_errors
from connectors.webchat.errors import submit_failure
from hub.connector import (
    ConnectorAuthError,
    ConnectorNotReady,
    IngestUnavailable,
    PermanentSendError,
    RecipientUnreachable,
)
from hub.messages import Address


def _refused(*codes: int) -> aiosmtplib.SMTPRecipientsRefused:
    return aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(c, "no", f"r{c}@example.com") for c in codes]
    )


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), ConnectorAuthError),
        (aiosmtplib.SMTPSenderRefused(530, "authenticate first", "a@b"), ConnectorAuthError),
        (aiosmtplib.SMTPSenderRefused(451, "try later", "a@b"), None),
        (_refused(550, 553), PermanentSendError),
        (_refused(550, 451), None),
        (aiosmtplib.SMTPDataError(554, "spam"), PermanentSendError),
        (aiosmtplib.SMTPDataError(451, "later"), None),
        (aiosmtplib.SMTPServerDisconnected("gone"), None),
    ],
)
def test_smtp_failures_map_onto_outcomes(
    exc: aiosmtplib.SMTPException, outcome: type[Exception] | None
) -> None:
    mapped = smtp_outcome(exc)
    assert (type(mapped) if mapped is not None else None) is outcome


def test_imap_login_refused_only_at_login() -> None:
    assert isinstance(login_failure(LoginError(b"[AUTHENTICATIONFAILED] no")), ImapAuthError)
    assert str(login_failure(LoginError(b"[AUTHENTICATIONFAILED] no"))) == (
        "[AUTHENTICATIONFAILED] no"
    )
    assert isinstance(login_failure(ConnectionRefusedError()), ImapUnavailable)
    assert str(imap_unavailable(TimeoutError("read"))) == "TimeoutError: read"


def test_graph_start_failures() -> None:
    expired = GraphError(401, {"code": 190, "type": "OAuthException", "message": "expired"})
    assert isinstance(start_failure(expired), ConnectorAuthError)
    assert isinstance(start_failure(GraphError(500, {"code": 2})), ConnectorNotReady)
    down = start_failure(aiohttp.ClientConnectionError("refused"))
    assert isinstance(down, ConnectorNotReady) and "ClientConnectionError" in str(down)


def test_telegram_failures_map_onto_outcomes() -> None:
    to = Address("telegram", "42")
    blocked = telegram_errors.send_failure(Forbidden("bot was blocked"), "Forbidden", 42, to)
    assert isinstance(blocked, RecipientUnreachable) and blocked.address == to
    refused = telegram_errors.send_failure(InvalidToken(), "InvalidToken", 42, to)
    assert isinstance(refused, ConnectorAuthError)
    bad = telegram_errors.send_failure(BadRequest("chat not found"), "BadRequest", 42, to)
    assert isinstance(bad, PermanentSendError) and not isinstance(bad, RecipientUnreachable)
    assert NetworkError not in telegram_errors.SEND_REFUSALS
    assert isinstance(telegram_errors.start_failure(InvalidToken(), "x"), ConnectorAuthError)
    assert isinstance(telegram_errors.start_failure(NetworkError("x"), "x"), ConnectorNotReady)


def test_webchat_submit_failures_tell_the_widget_whether_to_retry() -> None:
    assert submit_failure(IngestUnavailable("down"), "c1").frame()["retry_after"] == 5
    assert submit_failure(ValueError("no sender"), "c1").frame()["code"] == "invalid"
    assert submit_failure(RuntimeError("db"), "c1").frame()["retry_after"] == 30
