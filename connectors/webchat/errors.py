"""What goes wrong in a web chat, and what the widget or the outbox is told, in one place.

The widget hears of a refused frame as an error frame (`code` says whether to retry); a
reply to an address that is no web chat visitor is refused for good. A visitor without an
open tab is no failure: the reply is stored, and the widget reads it from the history.
"""

from __future__ import annotations

from typing import Any

from hub.connector import IngestUnavailable, PermanentSendError
from hub.messages import Address


class FrameError(Exception):
    """A frame the hub refuses; `code` is what the widget acts on, the text what it shows."""

    def __init__(self, code: str, text: str, client_id: str | None = None, **extra: Any) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.client_id = client_id
        self.extra = extra

    def frame(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "error", "code": self.code, "text": self.text}
        if self.client_id is not None:
            out["id"] = self.client_id
        return {**out, **self.extra}


def submit_failure(exc: Exception, client_id: str) -> FrameError:
    """The widget's error frame for a message the hub did not take."""
    if isinstance(exc, IngestUnavailable):
        return FrameError(
            "unavailable", "We could not take your message; retrying.", client_id, retry_after=5
        )
    if isinstance(exc, ValueError):
        # The core refused the message itself (no usable sender): sending it again will
        # not help.
        return FrameError("invalid", "This message cannot be taken.", client_id)
    # Most likely passing (storage); the widget keeps the message and tries later.
    return FrameError(
        "unavailable", "We could not take your message; retrying.", client_id, retry_after=30
    )


def not_a_visitor(to: Address) -> PermanentSendError:
    return PermanentSendError(f"not a web chat visitor: {to.kind}")
