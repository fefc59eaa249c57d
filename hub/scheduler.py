"""APScheduler inside the hub's loop: the greetings and campaign sweeps (later SLA checks)."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from hub.proactive.campaign_sweep import CampaignSweeper
from hub.proactive.greeting_sweep import GreetingSweeper
from hub.store import utcnow

log = logging.getLogger("hub.scheduler")


def build_scheduler(
    sweeper: GreetingSweeper,
    sweep_minutes: int,
    campaigns: CampaignSweeper | None = None,
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")

    async def sweep() -> None:
        try:
            await sweeper.sweep()
        except Exception:
            # The next sweep catches up within the window; a failure must not stop the timer.
            log.exception("greetings sweep failed")

    scheduler.add_job(
        sweep,
        "interval",
        minutes=sweep_minutes,
        id="greetings-sweep",
        # After a pause, run once, not once per missed interval: the sweep catches up itself.
        coalesce=True,
        max_instances=1,
        misfire_grace_time=sweep_minutes * 60,
        next_run_time=utcnow() + timedelta(seconds=5),
    )
    if campaigns is not None:

        async def campaign_sweep() -> None:
            try:
                await campaigns.sweep()
            except Exception:
                # Like greetings: the next run catches up within each campaign's window.
                log.exception("campaign sweep failed")

        # Same interval as greetings: a campaign's catch-up window (hours) covers it easily.
        scheduler.add_job(
            campaign_sweep,
            "interval",
            minutes=sweep_minutes,
            id="campaign-sweep",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=sweep_minutes * 60,
            next_run_time=utcnow() + timedelta(seconds=5),
        )
    return scheduler
