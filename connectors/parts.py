"""Sending one message as several parts where the channel takes no idempotency key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from hub.connector import ConnectorStorage

Step = TypeVar("Step")


async def send_in_parts(
    storage: ConnectorStorage,
    idempotency_key: str,
    steps: Sequence[Step],
    send_one: Callable[[Step], Awaitable[str]],
) -> list[str]:
    """Send each step in order and return the channel's ids for them.

    The parts already delivered are remembered under our idempotency key, so a retry after
    a failure sends only the rest (Telegram and the Graph API would repeat them)."""
    progress_key = f"sent:{idempotency_key}"
    sent: list[str] = []
    if len(steps) > 1:
        sent = [str(s) for s in await storage.get(progress_key) or []]
    for step in steps[len(sent) :]:
        sent.append(await send_one(step))
        if len(steps) > 1:
            await storage.put(progress_key, sent)
    return sent
