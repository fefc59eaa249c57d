"""What HubSpot's answers mean for the sync, in one place.

2xx: done (207: some records refused, each an outcome). 429: wait as the policy says
(TEN_SECONDLY_ROLLING and SECONDLY: the interval; DAILY: till later) -> CrmRateLimited.
401 and 403: the token is wrong or lacks a scope -> CrmAuthError. 5xx, time-outs and
network errors -> CrmUnavailable (retried with backoff). Other 4xx on a batch: the batch
was refused as a whole, each record gets the message as its outcome.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hub.connector import CrmAuthError, CrmRateLimited, CrmUnavailable

# Waits for each 429 policy when the answer names no Retry-After.
POLICY_WAITS = {"SECONDLY": 1.0, "TEN_SECONDLY_ROLLING": 10.0, "DAILY": 3600.0}
DEFAULT_WAIT = 10.0


class BatchRefused(Exception):
    """HubSpot refused a whole batch (a 4xx other than 401/403/429): each record fails."""


def unreachable(exc: BaseException) -> CrmUnavailable:
    # The text of a network error may quote headers; name its class only.
    return CrmUnavailable(f"hubspot: {exc.__class__.__name__}")


def rate_limited(body: Any, retry_after: str | None) -> CrmRateLimited:
    policy = str(body.get("policyName", "")) if isinstance(body, dict) else ""
    wait = POLICY_WAITS.get(policy, DEFAULT_WAIT)
    if retry_after:
        with contextlib.suppress(ValueError):
            wait = max(float(retry_after), 0.0)
    return CrmRateLimited(wait, f"hubspot rate limit {policy or 'unknown'}")


def refusal(status: int, body: Any) -> Exception:
    message = body.get("message", "") if isinstance(body, dict) else ""
    if status in (401, 403):
        return CrmAuthError(f"hubspot refused the token ({status}): {message[:200]}")
    if 400 <= status < 500:
        return BatchRefused(f"hubspot {status}: {message[:300]}")
    return CrmUnavailable(f"hubspot answered {status}")
