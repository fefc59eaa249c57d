"""The hub's one scheduler for periodic jobs: APScheduler inside the hub's event loop.

Every round that repeats (the greetings and campaign sweeps, the notification and alert
batches; later SLA checks) is a `PeriodicJob` added here. A failed round must not stop its
timer: storage trouble (a failover, a full disk) leaves the work pending in the store, so
the next round does it. After a failure the next round comes sooner or later by a growing,
jittered backoff (`hub.core.periodic.backoff_delay`), never at once for every process.
The outbox is not a job: it is a worker woken by new rows.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from hub.core.periodic import backoff_delay, cancelling
from hub.store import utcnow

log = logging.getLogger("hub.scheduler")
# APScheduler logs every run at INFO: with batches every few seconds that drowns the log.
# Failures are logged here, with the job's name and the backoff.
logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)


class _RoundStillRunning(logging.Filter):
    """A round that outlasts its interval (the webhooks round waiting on a slow receiver)
    makes APScheduler warn at every tick it skips; skipping is what max_instances=1 and
    coalesce ask for, and the running round catches up on everything pending."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_RoundStillRunning())


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    run: Callable[[], Awaitable[object]]
    # The first round, counted from start-up.
    first_after: timedelta = timedelta(seconds=5)
    # Longest wait after failures (the backoff starts at `every`).
    backoff_cap: timedelta = timedelta(seconds=60)


class Scheduler:
    def __init__(self, jobs: Sequence[PeriodicJob], rng: random.Random | None = None) -> None:
        self._aps = AsyncIOScheduler(timezone="UTC")
        self._rng = rng or random.Random()
        self._failures: dict[str, int] = {}
        # Rounds under way: stopping cancels and awaits them, so none outlives the parts
        # (the store) it works with.
        self._running: set[asyncio.Task[Any]] = set()
        self._stopping = False
        for job in jobs:
            self._aps.add_job(
                self._round(job),
                "interval",
                seconds=job.every.total_seconds(),
                id=job.name,
                name=job.name,
                # After a pause, run once, not once per missed interval: each round
                # catches up on everything still pending.
                coalesce=True,
                max_instances=1,
                misfire_grace_time=max(1, int(job.every.total_seconds())),
                next_run_time=utcnow() + job.first_after,
            )

    def _round(self, job: PeriodicJob) -> Callable[[], Awaitable[None]]:
        async def round_() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                await job.run()
            except asyncio.CancelledError:
                if self._stopping:
                    return  # the hub is closing: the round's work stays pending in the store
                raise
            except Exception as exc:
                if cancelling():
                    raise
                failures = self._failures.get(job.name, 0) + 1
                self._failures[job.name] = failures
                delay = backoff_delay(
                    failures, job.every.total_seconds(), job.backoff_cap.total_seconds(), self._rng
                )
                log.exception("%s failed; retry_in=%.1fs", job.name, delay, exc_info=exc)
                self._aps.modify_job(job.name, next_run_time=utcnow() + timedelta(seconds=delay))
            else:
                self._failures.pop(job.name, None)
            finally:
                self._running.discard(task)

        return round_

    def job_names(self) -> list[str]:
        return sorted(job.id for job in self._aps.get_jobs())

    def start(self) -> None:
        self._aps.start()

    async def stop(self) -> None:
        """No new rounds, and the rounds under way cancelled and awaited."""
        self._stopping = True
        if self._aps.running:
            self._aps.shutdown(wait=False)
        running = list(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
