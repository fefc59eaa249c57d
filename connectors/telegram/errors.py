"""What python-telegram-bot's errors mean to the hub, in one place.

A refused token disables the connector; flood control (429) and network trouble retry;
a blocked bot makes the recipient unreachable; any other refusal of a message is for good.
PTB's messages quote the token, so callers pass the exception's text redacted (`detail`).
"""

from __future__ import annotations

import warnings
from datetime import timedelta

from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from hub.connector import (
    ConnectorAuthError,
    ConnectorNotReady,
    PermanentSendError,
    RecipientUnreachable,
    RetryLater,
)
from hub.messages import Address

# The errors a send maps onto an outcome; others (network, a migrated chat) pass through.
SEND_REFUSALS = (Forbidden, InvalidToken, BadRequest)


def token_refused() -> ConnectorAuthError:
    # PTB's message quotes the token; ours must not.
    return ConnectorAuthError("Telegram rejected the bot token")


def flood_control(seconds: float) -> RetryLater:
    return RetryLater(seconds, "Telegram flood control")


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that retry_after will become a timedelta; accept either.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def start_failure(exc: TelegramError, detail: str) -> Exception:
    """The hub's exception for a failed start (getMe, setWebhook, deleteWebhook)."""
    if isinstance(exc, InvalidToken):
        return token_refused()
    return ConnectorNotReady(f"Bot API: {detail}")


def send_failure(
    exc: Forbidden | InvalidToken | BadRequest, detail: str, chat_id: int | str, to: Address
) -> Exception:
    """The hub's exception for one of SEND_REFUSALS."""
    if isinstance(exc, Forbidden):
        return RecipientUnreachable(
            f"Telegram will not deliver to chat {chat_id}: the user blocked the bot "
            f"or removed it from the chat ({detail})",
            to,
        )
    if isinstance(exc, InvalidToken):
        return token_refused()
    return PermanentSendError(f"Telegram refused the message: {detail}")
