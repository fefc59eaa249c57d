"""What the web handlers need from the running hub, handed over once when the app is built.

The handlers see these parts and nothing else of the hub: hub.web never imports hub.app,
which builds the deps and the web app from them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from hub.actions.measure import Measure
from hub.actions.solved import AfterChange, OnSolve
from hub.channels.directory import ChannelDirectory
from hub.channels.supervisor import Supervisor
from hub.config.agents import AgentsConfig
from hub.config.alerts import AlertsConfig
from hub.config.campaigns import CampaignConfig
from hub.config.loader import ApiConfig, HubSettings, WebConfig
from hub.config.privacy import PrivacyConfig
from hub.config.reports import ReportsConfig
from hub.connector import Connector
from hub.core.metrics import Metrics
from hub.core.replies import Replies
from hub.notify.events import NotifyRules
from hub.sla.clocks import SlaClocks
from hub.store import Store


async def _no_round() -> int:
    return 0


@dataclass(frozen=True)
class WebDeps:
    store: Store
    settings: HubSettings
    web: WebConfig
    api: ApiConfig
    agents: AgentsConfig
    alerts: AlertsConfig
    campaigns: Sequence[CampaignConfig]
    # The closing line of replies (config replies.signature), for canned responses.
    signature: str
    channels: ChannelDirectory
    connectors: Mapping[str, Connector]
    # Their states show on /healthz and /metrics.
    supervisors: Mapping[str, Supervisor]
    replies: Replies
    metrics: Metrics
    notify: NotifyRules
    # The SLA clocks agents' replies and changes move (hub.sla.clocks).
    sla: SlaClocks
    wake_outbox: Callable[[], None]
    # The hub's signing key (opt-out links).
    secret: bytes
    broadcast_state: Callable[[], str]
    # How agents' replies and status changes are measured for reports (hub.actions.measure).
    measure: Measure
    reports: ReportsConfig
    # The rollup's days are this zone's (reports.timezone, else hub.timezone).
    reports_zone: str
    # Where erasures append their ledger entries (hub.privacy.ledger).
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    # What a solve sets off (the CSAT survey); None: nothing (tests that build deps by hand).
    on_solve: OnSolve | None = None
    # One round of automatic assignment, run when an agent goes online (hub.assignment).
    assign_now: Callable[[], Awaitable[int]] = _no_round

    @property
    def after_change(self) -> AfterChange:
        """What agents' changes set off, for hub.actions."""
        return AfterChange(self.measure, self.on_solve, self.sla)


DEPS = web.AppKey("web_deps", WebDeps)


def deps_of(request: web.Request) -> WebDeps:
    """The deps, from whichever app or sub-app the request reached (set on the root app)."""
    return request.config_dict[DEPS]
