"""The thread marker: a token in our outgoing bodies that survives a rewritten Message-ID.

The core makes the marker (e.g. "T-123.<mac>", keyed with its secret) and verifies it; the
email connector only wraps it as `[ref:...]` in outgoing mail and finds it again in replies.
"""

from __future__ import annotations

import re

_WRAPPED = re.compile(r"\[ref:([A-Za-z0-9._:-]{3,80})\]")


def wrap_marker(marker: str) -> str:
    return f"[ref:{marker}]"


def find_marker(*texts: str | None) -> str | None:
    """The first marker in the given texts (the newest quote comes first in a reply)."""
    for text in texts:
        if text:
            found = _WRAPPED.search(text)
            if found:
                return found.group(1)
    return None
