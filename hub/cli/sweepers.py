"""The greetings and campaign sweepers for a CLI run (previews: they send nothing)."""

from __future__ import annotations

from hub.channels.directory import ChannelDirectory
from hub.config.loader import Config
from hub.connector import ConnectorRegistry
from hub.core.replies import Replies
from hub.proactive.factory import SweeperSources
from hub.store import Store
from hub.store.secret import hub_secret


async def sweeper_sources(
    store: Store, config: Config, registry: ConnectorRegistry
) -> SweeperSources:
    """What hub.proactive.factory builds a sweeper from, as `hub serve` would have it."""
    key = config.hub.secret_key
    return SweeperSources(
        store,
        config,
        Replies(config.replies.templates_dir, config.hub.default_locale),
        ChannelDirectory.build(config.connectors, registry),
        secret=await hub_secret(store, key.get_secret_value() if key else None),
    )
