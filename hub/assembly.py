"""The hub's parts, each built from the config and the parts below it (hub.app opens them
in order and closes them in reverse): the core every part shares, the connectors with
their contexts, the workers that send and their periodic jobs, the web handlers' deps."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.exc import DBAPIError

from hub.actions.reply import scheduled_reply_sent
from hub.actions.solved import OnSolve
from hub.agents.teams import sync_teams
from hub.assignment.assigner import ROUND_EVERY, Assigner
from hub.channels.broadcast import Broadcast
from hub.channels.conversation import conversation_history
from hub.channels.directory import ChannelDirectory
from hub.channels.message_events import record_events
from hub.channels.storage import DbConnectorStorage
from hub.channels.supervisor import Supervisor
from hub.config.loader import Config
from hub.connector import Connector, ConnectorRegistry, HubContext
from hub.core.identity import normalize_email, normalize_phone
from hub.core.metrics import Metrics
from hub.core.replies import Replies
from hub.crm.sync import CrmSyncer, build_syncers
from hub.dedup.sweep import sweep as sweep_duplicates
from hub.faq.bot import FaqBot
from hub.ingest.pipeline import Pipeline
from hub.notify.alerts import AlertWatcher
from hub.notify.post_batch import PostSweep
from hub.notify.sweep import NotificationSweeper
from hub.outbox.worker import OutboxWorker, WorkerHooks
from hub.privacy.retention import RetentionJob
from hub.proactive.campaign_sweep import CampaignSweeper
from hub.proactive.factory import SweeperSources, campaign_sweeper, greeting_sweeper
from hub.proactive.greeting_sweep import GreetingSweeper
from hub.reports.weekly_send import WeeklyDeps, WeeklySummaries
from hub.scheduler import PeriodicJob
from hub.sla.check import SlaCheck
from hub.store import Store
from hub.store.faults import StorageUnavailable
from hub.store.secret import hub_secret
from hub.surveys.sending import SurveyPlanner, survey_withdrawn
from hub.web.deps import WebDeps
from hub.webhooks.dispatcher import WebhookDispatcher


@dataclass
class Core:
    """The parts every other part is built on, open before any of them."""

    config: Config
    registry: ConnectorRegistry
    channels: ChannelDirectory
    metrics: Metrics
    store: Store
    secret: bytes
    replies: Replies
    broadcast: Broadcast
    # Set by whatever queued outbox rows; the outbox worker wakes on it.
    outbox_wakeup: asyncio.Event
    # Names this process in leases and outbox claims.
    instance_id: str


async def open_core(
    stack: contextlib.AsyncExitStack, config: Config, registry: ConnectorRegistry, replies: Replies
) -> Core:
    try:
        store = Store(config.storage.url)
        stack.push_async_callback(store.close)
        await store.migrate()
        await sync_teams(store, config.teams)
        key = config.hub.secret_key
        secret = await hub_secret(store, key.get_secret_value() if key else None)
    except (DBAPIError, OSError) as exc:
        # `hub serve` prints it as one line: the path or address, the cause, the fix.
        raise StorageUnavailable(config.storage.url, exc) from exc
    metrics = Metrics()
    broadcast = Broadcast(
        config.storage.url,
        on_trouble=lambda what: metrics.errors.labels(where=f"broadcast_{what}").inc(),
    )
    return Core(
        config=config,
        registry=registry,
        channels=ChannelDirectory.build(config.connectors, registry),
        metrics=metrics,
        store=store,
        secret=secret,
        replies=replies,
        broadcast=broadcast,
        outbox_wakeup=asyncio.Event(),
        instance_id=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
    )


def create_connectors(
    core: Core, pipeline: Pipeline
) -> tuple[dict[str, Connector], dict[str, Supervisor]]:
    connectors: dict[str, Connector] = {}
    supervisors: dict[str, Supervisor] = {}
    for cid, channel in core.channels.channels.items():
        if channel.type.crm is not None:
            continue  # a CRM, not a channel: hub.crm syncs it (Workers.crm)
        connector = channel.type.create(channel.config, _context(core, pipeline, cid, supervisors))
        connectors[cid] = connector
        supervisors[cid] = Supervisor(cid, connector)
    return connectors, supervisors


def _context(
    core: Core, pipeline: Pipeline, connector_id: str, supervisors: dict[str, Supervisor]
) -> HubContext:
    config, store = core.config, core.store
    region = config.hub.phone_region
    return HubContext(
        connector_id=connector_id,
        submit=pipeline.submit,
        normalize_email=normalize_email,
        normalize_phone=lambda raw: normalize_phone(raw, region),
        locales=tuple(config.hub.locales),
        default_locale=config.hub.default_locale,
        public_url=config.web.public_url.rstrip("/"),
        logger=logging.getLogger(f"connectors.{connector_id}"),
        # The supervisor is made right after its connector (it needs the connector).
        report=lambda exc: supervisors[connector_id].report(exc),
        storage=DbConnectorStorage(store, connector_id, core.instance_id),
        signing_key=core.secret,
        history=lambda address, limit: conversation_history(store, connector_id, address, limit),
        record_events=lambda events: record_events(store, events),
        publish=core.broadcast.publish,
        subscribe=core.broadcast.subscribe,
    )


async def stop_connectors(connectors: dict[str, Connector]) -> None:
    for connector in connectors.values():
        with contextlib.suppress(Exception):
            await connector.stop()


WEBHOOK_ROUND_SECONDS = 1.0


@dataclass
class Workers:
    """The parts that send: the outbox, the team and operator batches, the sweeps."""

    outbox: OutboxWorker
    alerts: AlertWatcher
    notifier: NotificationSweeper
    sweeper: GreetingSweeper
    campaigns: CampaignSweeper
    retention: RetentionJob
    # Teams with automatic assignment: waiting tickets and reassignments (hub.assignment).
    assigner: Assigner
    sla_check: SlaCheck
    weekly: WeeklySummaries
    # CRM connector id -> its sync (hub.crm): a push and a pull job each.
    crm: dict[str, CrmSyncer]
    # One round of duplicate detection over every customer (hub.dedup.sweep).
    duplicates: Callable[[], Awaitable[object]]
    # Posts outgoing events to webhook endpoints (config `webhooks:` and the API's).
    webhooks: WebhookDispatcher

    @classmethod
    def build(
        cls,
        core: Core,
        pipeline: Pipeline,
        connectors: dict[str, Connector],
        supervisors: dict[str, Supervisor],
    ) -> Workers:
        config = core.config
        senders = core.channels.can_send()
        wake = core.outbox_wakeup.set
        sources = SweeperSources(
            core.store, config, core.replies, core.channels, core.secret, core.metrics
        )
        return cls(
            outbox=OutboxWorker(
                core.store,
                config.outbox,
                {cid: c for cid, c in connectors.items() if cid in senders},
                core.metrics,
                WorkerHooks(
                    is_ready=lambda cid: supervisors[cid].ready,
                    on_auth_error=lambda cid, exc: supervisors[cid].report(exc),
                    secret=core.secret,
                    wakeup=core.outbox_wakeup,
                    alert_targets=tuple(config.alerts.notify),
                    on_withdrawn=functools.partial(
                        survey_withdrawn, core.store, ZoneInfo(config.report_zone)
                    ),
                    on_sent=functools.partial(scheduled_reply_sent, pipeline.setup.sla),
                ),
            ),
            # Tells the operators of disabled connectors and dead-letters (`alerts.notify`).
            alerts=AlertWatcher(
                core.store,
                config.alerts,
                supervisors,
                public_url=config.web.public_url,
                on_queued=wake,
            ),
            # Batches ticket notifications for the connectors routing rules `notify`, and
            # the SLA warnings and breaches for those `sla:` names.
            notifier=NotificationSweeper(
                core.store,
                config.notifications,
                sorted({*pipeline.notify.connectors, *pipeline.setup.sla.rules.connectors}),
                {t.id: t.name for t in config.teams},
                public_url=config.web.public_url,
                on_queued=wake,
            ),
            sweeper=greeting_sweeper(sources),
            campaigns=campaign_sweeper(sources),
            retention=RetentionJob(core.store, config.privacy, core.secret),
            assigner=pipeline.setup.assigner,
            sla_check=SlaCheck(core.store, pipeline.setup.sla, on_queued=wake),
            # The weekly summary emails (reports.weekly), queued through the outbox.
            weekly=WeeklySummaries(
                WeeklyDeps(
                    core.store,
                    core.replies,
                    config.web.public_url,
                    config.report_zone,
                    {t.id: t.name for t in config.teams},
                    on_queued=wake,
                ),
                config.reports.weekly,
            ),
            crm=build_syncers(
                core.channels.channels,
                core.store,
                config.hub,
                core.instance_id,
                alert_targets=tuple(config.alerts.notify),
            ),
            duplicates=functools.partial(sweep_duplicates, core.store, config.duplicates),
            webhooks=WebhookDispatcher(
                core.store, config.webhooks, alert_targets=tuple(config.alerts.notify)
            ),
        )

    def jobs(self, config: Config) -> list[PeriodicJob]:
        every = timedelta(minutes=config.greetings.sweep_minutes)
        # Campaigns on the greetings' interval: a campaign's catch-up window (hours) covers it.
        jobs = [
            PeriodicJob("greetings-sweep", every, self.sweeper.sweep),
            PeriodicJob("campaign-sweep", every, self.campaigns.sweep),
            # Every second, whether or not the config lists endpoints (the API may add
            # some): a fresh event goes out within about a second; an idle round is reads.
            PeriodicJob(
                "webhooks",
                timedelta(seconds=WEBHOOK_ROUND_SECONDS),
                self.webhooks.run_round,
                first_after=timedelta(0),
            ),
        ]
        if config.reports.weekly.summaries:
            jobs.append(PeriodicJob("weekly-summary", self.weekly.every, self.weekly.run))
        # Team and operator batches: the first round at once, then every few seconds.
        batches: list[tuple[str, PostSweep[Any]]] = []
        if self.notifier.connectors:
            batches.append(("notify", self.notifier))
        if config.alerts.notify:
            batches.append(("alerts", self.alerts))
        jobs += [
            PeriodicJob(
                name, timedelta(seconds=s.interval_seconds), s.sweep_once, first_after=timedelta(0)
            )
            for name, s in batches
        ]
        retention = config.privacy.retention
        if retention.enabled:
            jobs.append(
                PeriodicJob("retention", timedelta(hours=retention.every_hours), self.retention.run)
            )
        if self.assigner.active:
            jobs.append(
                PeriodicJob(
                    "assignment", ROUND_EVERY, self.assigner.run_once, first_after=timedelta(0)
                )
            )
        if self.sla_check.rules.enabled:
            check = self.sla_check
            jobs.append(
                PeriodicJob(
                    "sla-check", timedelta(seconds=check.interval_seconds), check.check_once
                )
            )
        jobs += crm_jobs(self.crm)
        if minutes := config.duplicates.sweep_minutes:
            # Not at start-up: a sweep reads every customer, and a restart is busy enough.
            every = timedelta(minutes=minutes)
            jobs.append(PeriodicJob("duplicates-sweep", every, self.duplicates, first_after=every))
        return jobs


def crm_jobs(syncers: dict[str, CrmSyncer]) -> list[PeriodicJob]:
    """Each CRM's push (first at once) and pull rounds, on its sync's intervals."""
    jobs = []
    for cid, syncer in syncers.items():
        sync = syncer.parts.settings
        push_every = timedelta(seconds=sync.push_interval_seconds)
        pull_every = timedelta(seconds=sync.pull_interval_seconds)
        jobs += [
            PeriodicJob(f"crm-push-{cid}", push_every, syncer.push_once, first_after=timedelta(0)),
            PeriodicJob(f"crm-pull-{cid}", pull_every, syncer.pull_once),
        ]
    return jobs


def web_deps(
    core: Core,
    pipeline: Pipeline,
    connectors: dict[str, Connector],
    supervisors: dict[str, Supervisor],
) -> WebDeps:
    config = core.config
    broadcast = core.broadcast
    return WebDeps(
        store=core.store,
        settings=config.hub,
        web=config.web,
        api=config.api,
        agents=config.agents,
        alerts=config.alerts,
        campaigns=config.campaigns,
        signature=config.replies.signature,
        channels=core.channels,
        connectors=connectors,
        supervisors=supervisors,
        replies=core.replies,
        metrics=core.metrics,
        notify=pipeline.notify,
        sla=pipeline.setup.sla,
        wake_outbox=core.outbox_wakeup.set,
        secret=core.secret,
        broadcast_state=lambda: broadcast.state,
        measure=pipeline.setup.measure,
        reports=config.reports,
        on_solve=on_solve(core),
        assign_now=pipeline.setup.assigner.run_once,
        privacy=config.privacy,
        reports_zone=config.report_zone,
    )


def on_solve(core: Core) -> OnSolve:
    """What a solve sets off (the CSAT survey), for the actions that solve tickets."""
    config, channels = core.config, core.channels
    planner = SurveyPlanner(
        config=config.surveys,
        replies=core.replies,
        secret=core.secret,
        public_url=config.web.public_url,
        signature=config.replies.signature,
        choice_senders=channels.choice_senders(),
        windows=channels.reply_windows(),
        zone=ZoneInfo(config.report_zone),
    )
    return OnSolve(planner, channels.reply_routes(), channels.address_kinds())


async def listen(stack: contextlib.AsyncExitStack, web_app: web.Application, config: Config) -> int:
    runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, config.web.host, config.web.port)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else config.web.port


def load_faq(path: str) -> FaqBot:
    return _load_faq_version(path, Path(path).stat().st_mtime_ns)


@functools.cache
def _load_faq_version(path: str, _mtime_ns: int) -> FaqBot:
    # Indexing an FAQ takes a moment; hubs in one process (tests, benches) share it. A
    # tuning not yet on disk is left to Hub._tune_faq.
    return FaqBot.load(path, defer_tuning=True)
