"""What the Graph API's errors (and aiohttp's) mean to the hub, in one place.

Graph answers errors as `{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}`; the code, not the HTTP status, says what happened.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from hub.connector import (
    ConnectorAuthError,
    ConnectorNotReady,
    PermanentSendError,
    RecipientUnreachable,
    RetryLater,
)
from hub.messages import Address

# 190: the access token expired or was revoked; 102: the session is invalid.
AUTH_CODES = frozenset({102, 190})
# Throttling: app, user, page, WhatsApp account and pair rate limits, spam protection.
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80007, 130429, 131048, 131056})
# The recipient is not (or no longer) reachable: not on WhatsApp, not available now.
UNREACHABLE_CODES = frozenset({131026, 551})
# Free text after the 24-hour customer-service window (WhatsApp; Messenger's 10/2018278).
WINDOW_CODES = frozenset({131047})
THROTTLE_WAIT_SECONDS = 60.0


class GraphError(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        self.status = status
        self.code = as_int(error.get("code"))
        self.subcode = as_int(error.get("error_subcode"))
        self.type = str(error.get("type") or "")
        # Graph's message never contains the token; cap it anyway.
        self.text = str(error.get("message") or "unknown error")[:300]
        super().__init__(f"Graph error {self.code} (HTTP {status}): {self.text}")

    def for_send(self, to: Address) -> Exception:
        """The hub's exception for a send Graph refused."""
        if self.is_auth:
            return token_refused(self)
        if self.code in THROTTLE_CODES or self.status == 429:
            return RetryLater(THROTTLE_WAIT_SECONDS, f"Graph API rate limit ({self.code})")
        if self.code in WINDOW_CODES or (self.code == 10 and self.subcode == 2018278):
            return PermanentSendError(
                "outside the 24-hour customer-service window: only an approved template "
                f"can be sent now ({self.text})"
            )
        if self.code in UNREACHABLE_CODES:
            return RecipientUnreachable(f"Meta will not deliver to {to.value}: {self.text}", to)
        if self.status >= 500 or self.code in (1, 2):
            return self  # transient: the outbox retries with backoff
        return PermanentSendError(f"Graph API refused the message: {self}")

    @property
    def is_auth(self) -> bool:
        return self.code in AUTH_CODES or (self.status == 401 and self.type == "OAuthException")


def token_refused(exc: GraphError) -> ConnectorAuthError:
    return ConnectorAuthError(f"Graph API refused the access token: {exc.text}")


def start_failure(exc: GraphError | aiohttp.ClientError | TimeoutError) -> Exception:
    """The hub's exception for a failed check of the account at start."""
    if not isinstance(exc, GraphError):
        return ConnectorNotReady(f"Graph API unreachable: {exc.__class__.__name__}")
    if exc.is_auth:
        return token_refused(exc)
    return ConnectorNotReady(str(exc))


def as_int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None
