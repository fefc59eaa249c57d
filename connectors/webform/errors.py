"""What goes wrong with a form post, and what the sender is told, in one place.

A web form only receives: a body it cannot read is refused with its HTTP status (4xx) and
a sentence the page shows; a hub that cannot store the message now answers 503 with
Retry-After, so the sender tries again.
"""

from __future__ import annotations

# The answer when the hub could not store the message (IngestUnavailable).
UNAVAILABLE = "We could not take your message right now; please try again."


# The answer to an Idempotency-Key already used for a different message (409).
KEY_REUSED = (
    "This idempotency key was already used for a different message; "
    "send a new key with a new message."
)


class PayloadError(Exception):
    """A body that cannot be taken; `field` names the form field at fault, if one is."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
