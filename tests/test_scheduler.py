"""The hub's one scheduler: a failed round backs off and runs again, and stopping cancels
the rounds under way so none outlives the store it works with."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hub.scheduler import PeriodicJob, Scheduler

HOUR = timedelta(hours=1)


async def test_a_failed_round_is_retried_after_a_backoff_not_a_whole_interval() -> None:
    calls = 0
    again = asyncio.Event()

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk full")
        again.set()

    scheduler = Scheduler(
        [
            PeriodicJob(
                "flaky", HOUR, flaky, first_after=timedelta(0), backoff_cap=timedelta(seconds=0.1)
            )
        ]
    )
    scheduler.start()
    try:
        # The interval is an hour: only the backoff (at most 0.1 s) brings the second round.
        await asyncio.wait_for(again.wait(), timeout=30)
    finally:
        await scheduler.stop()
    assert calls == 2


async def test_stopping_cancels_the_round_under_way_and_waits_for_it() -> None:
    started, finished = asyncio.Event(), asyncio.Event()
    outcome: list[str] = []

    async def slow() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        finally:
            finished.set()

    scheduler = Scheduler([PeriodicJob("slow", HOUR, slow, first_after=timedelta(0))])
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=30)
    await asyncio.wait_for(scheduler.stop(), timeout=30)
    # stop() returned only after the round had ended.
    assert finished.is_set()
    assert outcome == ["cancelled"]


def test_jobs_are_named_once_each() -> None:
    async def nothing() -> None:
        return None

    scheduler = Scheduler(
        [PeriodicJob("greetings-sweep", HOUR, nothing), PeriodicJob("notify", HOUR, nothing)]
    )
    assert scheduler.job_names() == ["greetings-sweep", "notify"]
