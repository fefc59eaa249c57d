"""What goes wrong with a form post, and what the sender is told, in one place.

A web form only receives: a body it cannot read is refused with its HTTP status (4xx) and
a sentence the page shows; a hub that cannot store the message now answers 503 with
Retry-After, so the sender tries again.
"""

from __future__ import annotations

# The answer when the hub could not store the message (IngestUnavailable).
UNAVAILABLE = "We could not take your message right now; please try again."


class PayloadError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
