"""What Salesforce's answers mean for the sync, in one place.

Salesforce answers errors as a list `[{"errorCode", "message"}]`. 401 INVALID_SESSION_ID:
the access token expired -> refresh it and retry once; still 401, or a refresh refused
(invalid_grant) -> CrmAuthError. 403 REQUEST_LIMIT_EXCEEDED (the org's daily API limit)
-> CrmRateLimited; another 403 -> CrmAuthError (the user lacks a permission). 5xx,
time-outs and network errors -> CrmUnavailable. Other 4xx -> the request was refused:
each record in it fails with the message. Per-record errors of a collection call come
back in its results (`errors: [{"statusCode", "message"}]`).
"""

from __future__ import annotations

from typing import Any

from hub.connector import CrmAuthError, CrmRateLimited, CrmUnavailable

SESSION_EXPIRED = "INVALID_SESSION_ID"
LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
# A record id that names nothing (any more): look the customer up again instead.
RECORD_GONE = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})


class RequestRefused(Exception):
    """Salesforce refused the request as a whole (a 4xx): every record in it fails."""


def error_code(body: Any) -> str:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode", ""))
    return ""


def error_message(body: Any) -> str:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("message", ""))[:300]
    return ""


def unreachable(exc: BaseException) -> CrmUnavailable:
    # The text of a network error may quote headers; name its class only.
    return CrmUnavailable(f"salesforce: {exc.__class__.__name__}")


def refusal(status: int, body: Any, limit_wait: float) -> Exception:
    code, message = error_code(body), error_message(body)
    if status == 403 and code == LIMIT_EXCEEDED:
        return CrmRateLimited(limit_wait, "salesforce daily API limit reached")
    if status in (401, 403):
        return CrmAuthError(f"salesforce refused access ({status} {code}): {message}")
    if 400 <= status < 500:
        return RequestRefused(f"salesforce {status} {code}: {message}")
    return CrmUnavailable(f"salesforce answered {status} {code}")


def record_error(result: dict[str, Any]) -> tuple[str, str]:
    """(statusCode, 'statusCode: message') of a collection result that failed."""
    errors = result.get("errors") or [{}]
    code = str(errors[0].get("statusCode", "ERROR"))
    return code, f"{code}: {str(errors[0].get('message', ''))[:300]}"
