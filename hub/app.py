"""The Hub: every part opened in order from the config, run under one TaskGroup, and
closed in reverse order (aiohttp's cleanup_ctx style).

`open_hub` opens the parts one after another, each with its tear-down registered as it
is opened: the store (migrated, teams synced), the signing key, the channel directory,
the pipeline, the connectors, the outbox, the batches, the sweepers, the scheduler and the
web server. What it yields is whole: no part is `None` or waiting for a key loaded later.
`Hub.serve` runs the workers until cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hub.assembly import (
    Core,
    create_connectors,
    listen,
    load_faq,
    open_core,
    stop_connectors,
    web_deps,
)
from hub.assembly.workers import Workers
from hub.channels.supervisor import Supervisor
from hub.config.loader import Config
from hub.connector import Connector, ConnectorRegistry
from hub.core.heap import settle_heap
from hub.core.language import warm_up
from hub.core.replies import Replies, TemplateProblem
from hub.crm.sync import CrmSyncer
from hub.faq.bot import FaqBot
from hub.ingest.pipeline import Pipeline
from hub.ingest.setup import IngestSetup
from hub.notify.alerts import AlertWatcher
from hub.notify.sweep import NotificationSweeper
from hub.outbox.worker import OutboxWorker
from hub.proactive.campaign_sweep import CampaignSweeper
from hub.proactive.greeting_sweep import GreetingSweeper
from hub.reports.weekly_send import WeeklySummaries
from hub.scheduler import Scheduler
from hub.sla.check import SlaCheck
from hub.web.server import build_web_app
from hub.webhooks.dispatcher import WebhookDispatcher

log = logging.getLogger("hub")


@dataclass
class Hub(Core):
    pipeline: Pipeline
    connectors: dict[str, Connector]
    supervisors: dict[str, Supervisor]
    outbox: OutboxWorker
    alerts: AlertWatcher
    notifier: NotificationSweeper
    sweeper: GreetingSweeper
    campaigns: CampaignSweeper
    # The periodic SLA check: breaches, warnings and their notices (hub.sla.check).
    sla_check: SlaCheck
    weekly: WeeklySummaries
    webhooks: WebhookDispatcher
    scheduler: Scheduler
    web_app: web.Application
    port: int
    # CRM connector id -> its sync (hub.crm); its rounds are scheduler jobs.
    crm: dict[str, CrmSyncer]

    async def serve(self, on_started: Callable[[Hub], None] | None = None) -> None:
        """Run the workers until cancelled; `on_started` once they all run."""
        self.scheduler.start()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.pipeline.run(), name="ingest")
                tg.create_task(self.broadcast.run(), name="broadcast")
                tg.create_task(self.outbox.run(), name="outbox")
                for cid, sup in self.supervisors.items():
                    tg.create_task(sup.run(), name=f"connector:{cid}")
                faq = self.pipeline.faq
                if faq is not None and faq.tuning_pending and self.config.bot.faq:
                    tg.create_task(self._tune_faq(self.config.bot.faq), name="faq-tune")
                log.info("hub listening url=http://%s:%s", self.config.web.host, self.port)
                settle_heap()
                if on_started is not None:
                    on_started(self)
        finally:
            await self.scheduler.stop()

    async def _tune_faq(self, path: str) -> None:
        """Tune the FAQ's model in a thread while the untuned one answers, then swap in the
        tuned bot; a start-up is not held for the minutes tuning takes."""
        from hub.faq.tune import CANCEL

        log.info("faq answering with the untuned model until tuning ends path=%s", path)
        cancel = threading.Event()
        CANCEL.set(cancel)  # this task's context, copied into the thread
        try:
            tuned = await asyncio.to_thread(FaqBot.load, path)
        except asyncio.CancelledError:
            cancel.set()  # the thread stops at its next batch instead of holding the exit
            raise
        except Exception:
            # The untuned bot keeps answering; the next start tries again.
            log.exception("faq tuning failed; keeping the untuned model path=%s", path)
            return
        self.pipeline.faq = tuned
        log.info("faq now answering with the tuned model path=%s", path)


@contextlib.asynccontextmanager
async def open_hub(config: Config, registry: ConnectorRegistry) -> AsyncIterator[Hub]:
    """Every part of a hub, opened in order; on exit each is closed in reverse."""
    replies = Replies(config.replies.templates_dir, config.hub.default_locale)
    if problems := replies.check():
        raise TemplateProblem("; ".join(problems))
    async with contextlib.AsyncExitStack() as stack:
        core = await open_core(stack, config, registry, replies)
        pipeline = Pipeline(
            IngestSetup(
                core.store,
                config,
                replies,
                core.metrics,
                core.channels.reply_routes(),
                on_outbox=core.outbox_wakeup.set,
                explicit_threading=core.channels.threading_by_reference(),
                secret=core.secret,
                chat_connectors=core.channels.chats(),
                faq=load_faq(config.bot.faq) if config.bot.faq else None,
            )
        )
        connectors, supervisors = create_connectors(core, pipeline)
        stack.push_async_callback(stop_connectors, connectors)
        parts = Workers.build(core, pipeline, connectors, supervisors)
        for syncer in parts.crm.values():
            stack.push_async_callback(syncer.close)
        stack.push_async_callback(parts.webhooks.close)
        await parts.webhooks.start()
        web_app = build_web_app(web_deps(core, pipeline, connectors, supervisors))
        warm_up()
        port = await listen(stack, web_app, config)
        yield Hub(
            **vars(core),
            pipeline=pipeline,
            connectors=connectors,
            supervisors=supervisors,
            outbox=parts.outbox,
            alerts=parts.alerts,
            notifier=parts.notifier,
            sweeper=parts.sweeper,
            campaigns=parts.campaigns,
            sla_check=parts.sla_check,
            weekly=parts.weekly,
            webhooks=parts.webhooks,
            scheduler=Scheduler(parts.jobs(config)),
            web_app=web_app,
            port=port,
            crm=parts.crm,
        )


async def run_hub(
    config: Config,
    registry: ConnectorRegistry,
    on_started: Callable[[Hub], None] | None = None,
) -> None:
    """Open a hub and serve until cancelled."""
    async with open_hub(config, registry) as hub:
        await hub.serve(on_started)


async def serve_forever(config: Config, registry: ConnectorRegistry) -> None:
    """`hub serve`: run until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await run_hub(config, registry)


async def running_hub(config: Config, registry: ConnectorRegistry) -> tuple[Hub, asyncio.Task[Any]]:
    """Start a hub in the background and wait until it listens (for tests and benches)."""
    started: asyncio.Future[Hub] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_hub(config, registry, started.set_result))
    done, _ = await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if started not in done:
        started.cancel()
        task.result()  # the reason it stopped
        raise RuntimeError("the hub stopped before it listened")
    return started.result(), task
