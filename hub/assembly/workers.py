"""The workers that send and the periodic jobs (hub.app builds them after the core, the
pipeline and the connectors): the outbox, the team and operator batches, the sweeps, the
SLA check, CRM syncs, webhook rounds and the integration log's retention."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.actions.customer_edit import tag_effects
from hub.actions.reply import scheduled_reply_sent
from hub.assembly import Core
from hub.assignment.assigner import ROUND_EVERY, Assigner
from hub.channels.supervisor import Supervisor
from hub.config.loader import Config
from hub.connector import Connector
from hub.core.sealed import sealer_for
from hub.crm.parts import SyncEffects
from hub.crm.sync import CrmSyncer, build_syncers, crm_channels
from hub.dedup.sweep import sweep as sweep_duplicates
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
from hub.surveys.sending import survey_withdrawn
from hub.webhooks.dispatcher import WebhookDispatcher

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
            retention=RetentionJob(
                core.store, config.privacy, core.secret, list(crm_channels(core.channels.channels))
            ),
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
                effects=SyncEffects(tuple(config.alerts.notify), tag_effects(config)),
            ),
            duplicates=functools.partial(sweep_duplicates, core.store, config.duplicates),
            webhooks=WebhookDispatcher(
                core.store,
                config.webhooks,
                sealer=sealer_for(core.secret),
                alert_targets=tuple(config.alerts.notify),
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
        jobs.append(PeriodicJob("integration-log", timedelta(hours=1), self.retention.prune_log))
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
