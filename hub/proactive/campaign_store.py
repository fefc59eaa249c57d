"""Campaigns created with `hub campaigns create`, kept in the database next to the config's."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.campaigns import CampaignConfig
from hub.store import Store, utcnow
from hub.store.schema import campaigns

log = logging.getLogger("hub.proactive.campaigns")


class CampaignExists(ValueError):
    pass


async def load_campaigns(conn: AsyncConnection) -> list[CampaignConfig]:
    out = []
    for name, definition in await conn.execute(
        select(campaigns.c.name, campaigns.c.definition).order_by(campaigns.c.created_at)
    ):
        try:
            out.append(CampaignConfig.model_validate(definition))
        except ValidationError as exc:
            # Written by an older hub whose rules differ: skip it loudly, send nothing odd.
            log.error("campaign %s in the database is not valid and is skipped: %s", name, exc)
    return out


async def campaigns_in_effect(
    store: Store, configured: list[CampaignConfig]
) -> list[CampaignConfig]:
    """The config's campaigns, then those created by CLI (a config name wins)."""
    async with store.read() as conn:
        stored = await load_campaigns(conn)
    names = {c.name for c in configured}
    return [*configured, *(c for c in stored if c.name not in names)]


async def create_campaign(
    store: Store, campaign: CampaignConfig, configured: list[CampaignConfig]
) -> None:
    if any(c.name == campaign.name for c in configured):
        raise CampaignExists(f"campaign {campaign.name!r} is defined in the config file")
    async with store.write() as conn:
        done = (
            await conn.execute(
                store.insert(campaigns)
                .values(
                    name=campaign.name,
                    definition=campaign.model_dump(mode="json"),
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(campaigns.c.name)
            )
        ).first()
    if done is None:
        raise CampaignExists(f"campaign {campaign.name!r} already exists")
