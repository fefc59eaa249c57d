"""What an incoming webhook's answer means for the outbox, in one place.

2xx: delivered. 429: wait as Retry-After says. 401, 403, 404, 410: the webhook itself is
revoked, its channel archived or the post forbidden, which no retry mends: the connector
is disabled (the message waits) until an operator fixes `webhook_url`. Other 4xx: this
message was refused (dead-lettered with the service's reason). 5xx, timeouts and network
errors (aiohttp): retried with backoff by the outbox.
"""

from __future__ import annotations

from hub.connector import ConnectorAuthError, PermanentSendError, RetryLater

# Retry-After beyond this (or missing) is taken as this many seconds.
MAX_RETRY_AFTER = 3600.0
DEFAULT_RETRY_AFTER = 30.0
# Statuses that say the webhook, not this message, is the problem.
WEBHOOK_GONE = frozenset({401, 403, 404, 410})


class WebhookUnavailable(Exception):
    """The service could not take the post now (5xx, timeout, network): retry later."""


def unreachable(service: str, exc: BaseException) -> WebhookUnavailable:
    """For a network error or timeout (aiohttp.ClientError, TimeoutError, OSError)."""
    # The exception's text may quote the URL, which is a secret: name its class only.
    return WebhookUnavailable(f"{service}: {exc.__class__.__name__}")


def refusal(service: str, status: int, reason: str, retry_after: str | None) -> Exception:
    """The outcome of a post the service answered with a status other than 2xx."""
    if status == 429:
        return RetryLater(_retry_after(retry_after), f"{service} rate limit")
    if status in WEBHOOK_GONE:
        return ConnectorAuthError(
            f"{service} refused the webhook ({status} {reason}): it was revoked, its "
            "channel archived or posting forbidden; fix webhook_url"
        )
    if 400 <= status < 500:
        return PermanentSendError(f"{service} refused the post ({status} {reason})")
    return WebhookUnavailable(f"{service} answered {status} {reason}")


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        seconds = DEFAULT_RETRY_AFTER
    return min(max(seconds, 1.0), MAX_RETRY_AFTER)
