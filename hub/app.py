"""The Hub: builds everything from Config and runs it under one TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from hub.agents.teams import sync_teams
from hub.channels.broadcast import Broadcast
from hub.channels.conversation import conversation_history
from hub.channels.directory import ChannelDirectory
from hub.channels.message_events import record_events
from hub.channels.storage import DbConnectorStorage
from hub.channels.supervisor import Supervisor
from hub.config.loader import Config
from hub.connector import Connector, ConnectorRegistry, HubContext
from hub.core.heap import settle_heap
from hub.core.identity import normalize_email, normalize_phone
from hub.core.language import warm_up
from hub.core.metrics import Metrics
from hub.core.replies import Replies, TemplateProblem
from hub.faq.bot import FaqBot
from hub.ingest.pipeline import Pipeline
from hub.ingest.setup import IngestSetup
from hub.notify.alerts import AlertWatcher
from hub.notify.sweep import NotificationSweeper
from hub.outbox.worker import OutboxWorker, WorkerHooks
from hub.proactive.campaign_sweep import CampaignSweeper
from hub.proactive.factory import SweeperSources, campaign_sweeper, greeting_sweeper
from hub.proactive.greeting_sweep import GreetingSweeper
from hub.scheduler import PeriodicJob, Scheduler
from hub.store import Store
from hub.store.secret import hub_secret
from hub.web.deps import WebDeps
from hub.web.server import build_web_app

log = logging.getLogger("hub")


class Hub:
    def __init__(self, config: Config, registry: ConnectorRegistry) -> None:
        self.config = config
        self.registry = registry
        self.channels = ChannelDirectory.build(config.connectors, registry)
        self.metrics = Metrics()
        # Names this process in leases and outbox claims.
        self.instance_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.store = Store(config.storage.url)
        self.broadcast = Broadcast(
            config.storage.url,
            on_trouble=lambda what: self.metrics.errors.labels(where=f"broadcast_{what}").inc(),
        )
        self.replies = Replies(config.replies.templates_dir, config.hub.default_locale)
        self.connectors: dict[str, Connector] = {}
        self.supervisors: dict[str, Supervisor] = {}
        self.pipeline = Pipeline(
            IngestSetup(
                self.store,
                config,
                self.replies,
                self.metrics,
                self.channels.reply_routes(),
                on_outbox=lambda: self.outbox.wake(),
                explicit_threading=self.channels.threading_by_reference(),
                secret=lambda: self.secret,
                chat_connectors=self.channels.chats(),
                faq=_load_faq(config.bot.faq) if config.bot.faq else None,
            )
        )
        for cfg in config.connectors:
            ctype = registry.get(cfg.type)
            assert ctype is not None, cfg.type
            connector = ctype.create(cfg, self._context(cfg.id))
            self.connectors[cfg.id] = connector
            self.supervisors[cfg.id] = Supervisor(cfg.id, connector)
        self.outbox = OutboxWorker(
            self.store,
            config.outbox,
            {cid: c for cid, c in self.connectors.items() if cid in self.channels.can_send()},
            self.metrics,
            WorkerHooks(
                is_ready=lambda cid: self.supervisors[cid].ready,
                on_auth_error=lambda cid, exc: self.supervisors[cid].report(exc),
                secret=lambda: self.secret,
                alert_targets=tuple(config.alerts.notify),
            ),
        )
        # Tells the operators of disabled connectors and dead-letters (`alerts.notify`).
        self.alerts = AlertWatcher(
            self.store,
            config.alerts,
            self.supervisors,
            public_url=config.web.public_url,
            on_queued=self.outbox.wake,
        )
        # Batches ticket notifications for the connectors routing rules `notify`.
        self.notifier = NotificationSweeper(
            self.store,
            config.notifications,
            self.pipeline.notify.connectors,
            {t.id: t.name for t in config.teams},
            public_url=config.web.public_url,
            on_queued=self.outbox.wake,
        )
        # Loaded at start (it may live in the database); handlers read it per request.
        self.secret = b""
        self.sweeper: GreetingSweeper | None = None
        self.campaigns: CampaignSweeper | None = None
        self.web_app = build_web_app(self._web_deps())
        self._runner: web.AppRunner | None = None
        self._tasks: asyncio.TaskGroup | None = None
        self.port: int | None = None

    def _jobs(self) -> list[PeriodicJob]:
        assert self.sweeper is not None and self.campaigns is not None
        every = timedelta(minutes=self.config.greetings.sweep_minutes)
        # Campaigns on the greetings' interval: a campaign's catch-up window (hours) covers it.
        return [
            PeriodicJob("greetings-sweep", every, self.sweeper.sweep),
            PeriodicJob("campaign-sweep", every, self.campaigns.sweep),
        ]

    def _web_deps(self) -> WebDeps:
        config = self.config
        return WebDeps(
            store=self.store,
            settings=config.hub,
            web=config.web,
            api=config.api,
            agents=config.agents,
            alerts=config.alerts,
            campaigns=config.campaigns,
            signature=config.replies.signature,
            channels=self.channels,
            connectors=self.connectors,
            supervisors=self.supervisors,
            replies=self.replies,
            metrics=self.metrics,
            notify=self.pipeline.notify,
            wake_outbox=self.outbox.wake,
            secret=lambda: self.secret,
            broadcast_state=lambda: self.broadcast.state,
        )

    def _context(self, connector_id: str) -> HubContext:
        region = self.config.hub.phone_region
        return HubContext(
            connector_id=connector_id,
            submit=self.pipeline.submit,
            normalize_email=normalize_email,
            normalize_phone=lambda raw: normalize_phone(raw, region),
            locales=tuple(self.config.hub.locales),
            default_locale=self.config.hub.default_locale,
            public_url=self.config.web.public_url.rstrip("/"),
            logger=logging.getLogger(f"connectors.{connector_id}"),
            report=lambda exc: self.supervisors[connector_id].report(exc),
            storage=DbConnectorStorage(self.store, connector_id, self.instance_id),
            signing_key=lambda: self.secret,
            history=lambda address, limit: conversation_history(
                self.store, connector_id, address, limit
            ),
            record_events=lambda events: record_events(self.store, events),
            publish=self.broadcast.publish,
            subscribe=self.broadcast.subscribe,
        )

    async def run(self, started: asyncio.Event | None = None) -> None:
        """Run until cancelled."""
        problems = self.replies.check()
        if problems:
            raise TemplateProblem("; ".join(problems))
        await self.store.migrate()
        await sync_teams(self.store, self.config.teams)
        key = self.config.hub.secret_key
        self.secret = await hub_secret(self.store, key.get_secret_value() if key else None)
        sources = SweeperSources(
            self.store, self.config, self.replies, self.channels, self.secret, self.metrics
        )
        self.sweeper = greeting_sweeper(sources)
        self.campaigns = campaign_sweeper(sources)
        scheduler = Scheduler(self._jobs())
        warm_up()
        try:
            scheduler.start()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.pipeline.run(), name="ingest")
                tg.create_task(self.broadcast.run(), name="broadcast")
                tg.create_task(self.outbox.run(), name="outbox")
                if self.notifier.connectors:
                    tg.create_task(self.notifier.run(), name="notify")
                if self.config.alerts.notify:
                    tg.create_task(self.alerts.run(), name="alerts")
                for cid, sup in self.supervisors.items():
                    tg.create_task(sup.run(), name=f"connector:{cid}")
                faq = self.pipeline.faq
                if faq is not None and faq.tuning_pending and self.config.bot.faq:
                    tg.create_task(self._tune_faq(self.config.bot.faq), name="faq-tune")
                await self._start_web()
                log.info("hub listening url=http://%s:%s", self.config.web.host, self.port)
                settle_heap()
                if started is not None:
                    started.set()
        finally:
            scheduler.stop()
            await self._shutdown()

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

    async def _start_web(self) -> None:
        self._runner = web.AppRunner(self.web_app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.web.host, self.config.web.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.config.web.port

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        for connector in self.connectors.values():
            with contextlib.suppress(Exception):
                await connector.stop()
        await self.store.close()

    async def serve_forever(self) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await self.run()


def _load_faq(path: str) -> FaqBot:
    return _load_faq_version(path, Path(path).stat().st_mtime_ns)


@functools.cache
def _load_faq_version(path: str, _mtime_ns: int) -> FaqBot:
    # Indexing an FAQ takes a moment; hubs in one process (tests, benches) share it. A
    # tuning not yet on disk is left to Hub._tune_faq.
    return FaqBot.load(path, defer_tuning=True)


async def running_hub(config: Config, registry: ConnectorRegistry) -> tuple[Hub, asyncio.Task[Any]]:
    """Start a hub in the background and wait until it listens (for tests and benches)."""
    hub = Hub(config, registry)
    started = asyncio.Event()
    task = asyncio.create_task(hub.run(started))
    waiter = asyncio.create_task(started.wait())
    done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()
    return hub, task
