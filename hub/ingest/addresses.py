"""A batch's addresses, normalized once each: a message's sender, identities and
reply-to are mostly the same address, and validating an email is not cheap."""

from __future__ import annotations

from collections.abc import Callable

from hub.core.identity import normalize_address
from hub.messages import Address, InboundMessage

Normalize = Callable[[Address], Address | None]


def normalizer(region: str) -> Normalize:
    """normalize_address, remembering its answers."""
    seen: dict[Address, Address | None] = {}

    def normalize(addr: Address) -> Address | None:
        if addr not in seen:
            seen[addr] = normalize_address(addr, region)
        return seen[addr]

    return normalize


def sender_identities(msg: InboundMessage, normalize: Normalize) -> list[Address]:
    """The sender's usable identities, normalized, sender first, each once."""
    return _unique(n for a in (msg.sender, *msg.identities) if (n := normalize(a)))


def _unique(addrs: object) -> list[Address]:
    seen: set[tuple[str, str]] = set()
    out = []
    for a in addrs:  # type: ignore[attr-defined]
        if (a.kind, a.value) not in seen:
            seen.add((a.kind, a.value))
            out.append(a)
    return out
