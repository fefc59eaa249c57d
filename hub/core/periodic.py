"""Waiting after failures: growing, jittered backoff shared by every retry loop of the hub."""

from __future__ import annotations

import asyncio
import random


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter on the upper half: never all at once."""
    # 2**63 is past any cap; a bigger exponent would overflow the float.
    ceiling = min(cap, base * (2.0 ** min(63, max(0, attempt - 1))))
    return ceiling / 2 + rng.random() * ceiling / 2


def cancelling() -> bool:
    """True once someone asked this task to stop, even if the CancelledError got lost."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
