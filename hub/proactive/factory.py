"""The greetings and campaign sweepers as the hub and the CLI build them from the config."""

from __future__ import annotations

from dataclasses import dataclass

from hub.channels.directory import ChannelDirectory
from hub.config.loader import Config
from hub.core.metrics import Metrics
from hub.core.replies import Replies
from hub.proactive.campaign_sweep import CampaignSweeper
from hub.proactive.greeting_sweep import GreetingSweeper
from hub.proactive.sweep import SweepDeps
from hub.store import Store


@dataclass(frozen=True)
class SweeperSources:
    """What the running hub or a CLI command has that the sweepers are built from."""

    store: Store
    config: Config
    replies: Replies
    channels: ChannelDirectory
    secret: bytes
    metrics: Metrics | None = None


def sweep_deps(sources: SweeperSources) -> SweepDeps:
    config = sources.config
    return SweepDeps(
        sources.store,
        sources.replies,
        sources.channels.senders(),
        public_url=config.web.public_url,
        secret=sources.secret,
        signature=config.replies.signature,
        windows=sources.channels.window_hours(),
        metrics=sources.metrics,
    )


def greeting_sweeper(sources: SweeperSources) -> GreetingSweeper:
    return GreetingSweeper(sweep_deps(sources), sources.config.greetings)


def campaign_sweeper(sources: SweeperSources) -> CampaignSweeper:
    return CampaignSweeper(sweep_deps(sources), sources.config.campaigns)
