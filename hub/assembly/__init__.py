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
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.exc import DBAPIError

from hub.actions.solved import OnSolve
from hub.agents.teams import sync_teams
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
from hub.faq.bot import FaqBot
from hub.ingest.pipeline import Pipeline
from hub.store import Store
from hub.store.faults import StorageUnavailable
from hub.store.secret import hub_secret
from hub.surveys.sending import SurveyPlanner
from hub.web.deps import WebDeps


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
