"""hub.channels.supervisor: a connector that keeps failing to start is retried with bounded backoff,
however long the outage, and runs once its channel is back."""

from __future__ import annotations

import asyncio
import random

from hub.channels.supervisor import RUNNING, Supervisor
from hub.connector import ConnectorConfig
from hub.core.periodic import backoff_delay


class FlakyChannel:
    """A channel that is down for its first `down` starts."""

    def __init__(self, down: int) -> None:
        self.config = ConnectorConfig(id="flaky", type="flaky")
        self.down = down
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        if self.starts <= self.down:
            raise ConnectionRefusedError("server down")

    async def stop(self) -> None:
        pass

    async def send(self, msg: object) -> str:
        raise NotImplementedError


async def test_a_connector_down_for_days_is_still_retried_and_recovers() -> None:
    channel = FlakyChannel(down=3)
    sup = Supervisor("flaky", channel, base_delay=0.001, max_delay=0.01)  # type: ignore[arg-type]
    # Days of an outage at the longest delay: 2**attempts is far past a float.
    sup.status.attempts = 5000
    task = asyncio.create_task(sup.run())
    try:
        async with asyncio.timeout(5):
            while sup.status.state != RUNNING:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert channel.starts == 4
    assert sup.status.attempts == 0


def test_backoff_is_bounded_at_any_attempt_count() -> None:
    rng = random.Random(1)
    for attempt in (0, 1, 2, 64, 1025, 10**6):
        assert 0 < backoff_delay(attempt, 0.5, 60.0, rng) <= 60.0
