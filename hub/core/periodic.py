"""A background round repeated forever, surviving storage trouble (the hub's sweeps)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter on the upper half: never all at once."""
    # 2**63 is past any cap; a bigger exponent would overflow the float.
    ceiling = min(cap, base * (2.0 ** min(63, max(0, attempt - 1))))
    return ceiling / 2 + rng.random() * ceiling / 2


def cancelling() -> bool:
    """True once someone asked this task to stop, even if the CancelledError got lost."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def run_every(
    step: Callable[[], Awaitable[object]],
    seconds: float,
    *,
    what: str,
    log: logging.Logger,
    rng: random.Random,
    cap: float = 60.0,
) -> None:
    """Run `step` every `seconds`; after a failure wait with growing, jittered backoff.

    Storage trouble (a failover, a full disk) must not stop the hub: whatever the round
    would have done is still pending in the store and is done by a later round.
    """
    failures = 0
    while True:
        try:
            await step()
            failures = 0
            delay = seconds
        except Exception as exc:
            if cancelling():
                # A cancellation a library turned into another exception: stop anyway.
                raise asyncio.CancelledError from exc
            failures += 1
            delay = backoff_delay(failures, seconds, cap, rng)
            log.exception("%s failed; retry_in=%.1fs", what, delay)
        await asyncio.sleep(delay)
