"""The campaign sweep: queue each campaign once per customer, at their local send hour.

For every enabled campaign whose send date is near, the sweep works out which time zones
are due now and selects the segment's customers in those zones who have no campaign row
yet; hub.proactive.sweep picks the channel and writes the unique (campaign, customer) row
in the same transaction as the outbox row. The outbox checks consent again at send time
and paces each connector by its `rate_limit_per_minute`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.campaigns import CampaignConfig
from hub.outbox.enqueue import Outbound
from hub.proactive.campaign_store import campaigns_in_effect
from hub.proactive.campaigns import due_zones, in_segment, may_be_due, send_at
from hub.proactive.greetings import UnknownTimeZone
from hub.proactive.sweep import Claims, Delivery, Letter, SweepDeps, Sweeper, Tally
from hub.proactive.templates import Recipient
from hub.store import utcnow
from hub.store.schema import (
    campaign_sends,
    customers,
    outbox,
    purchases,
    tickets,
)
from hub.tickets.records import OPEN_STATUSES

log = logging.getLogger("hub.proactive.campaigns")

PAGE = 1000


@dataclass(frozen=True)
class Target(Delivery):
    customer_id: int
    name: str | None
    locale: str
    timezone: str


@dataclass(kw_only=True)
class CampaignResult(Tally):
    campaign: str


@dataclass
class Preview:
    campaign: CampaignConfig
    in_segment: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    already_sent: int = 0
    sample: list[Target] = field(default_factory=list)


class CampaignSweeper(Sweeper):
    def __init__(
        self, deps: SweepDeps, campaigns: list[CampaignConfig], *, page_size: int = PAGE
    ) -> None:
        super().__init__(deps, page_size)
        self.campaigns = campaigns

    def has_template(self, campaign: CampaignConfig) -> bool:
        return self.replies.has(campaign.template, self.replies.default_locale)

    async def sweep(self, now: datetime | None = None) -> list[CampaignResult]:
        """Queue every campaign message due at `now`; safe to run as often as wanted."""
        now = now or utcnow()
        results = []
        for campaign in await campaigns_in_effect(self.store, self.campaigns):
            if not (campaign.enabled and may_be_due(campaign, now)):
                continue
            if not self.has_template(campaign):
                # Rendering would fail on every page: say so each sweep until it is fixed.
                log.error(
                    "campaign %s: no template %s/%s.txt.j2; nothing queued",
                    campaign.name,
                    self.replies.default_locale,
                    campaign.template,
                )
                continue
            results.append(await self._sweep_one(campaign, now))
        return results

    async def _sweep_one(self, campaign: CampaignConfig, now: datetime) -> CampaignResult:
        result = CampaignResult(campaign=campaign.name)
        async with self.store.read() as conn:
            zones = (
                await conn.execute(
                    select(customers.c.timezone).where(customers.c.merged_into.is_(None)).distinct()
                )
            ).scalars()
            due = due_zones(campaign, list(zones), now)
        if not due:
            return result
        await self._queue_pages(
            self._segment(campaign, zones=due, unsent_only=True),
            lambda page: self._plan(campaign, page, now),
            lambda todo: self._queue(campaign, todo, now),
            result,
        )
        if self.metrics is not None and result.queued:
            self.metrics.campaign_queued.labels(campaign=campaign.name).inc(result.queued)
        if result.queued or result.skipped:
            log.info(
                "campaign sweep campaign=%s zones=%s candidates=%s queued=%s already=%s skipped=%s",
                campaign.name,
                len(due),
                result.candidates,
                result.queued,
                result.already,
                result.skipped,
            )
        return result

    async def preview(self, campaign: CampaignConfig, sample_size: int = 10) -> Preview:
        """The whole segment, whatever the time: who would get it on which channel, who not."""
        out = Preview(campaign)
        async for page in self._segment(campaign, zones=None, unsent_only=False):
            # Reply windows as they are now: the preview cannot know who writes later.
            for t in await self._plan(campaign, page, utcnow()):
                out.in_segment += 1
                if t.already_sent:
                    out.already_sent += 1
                elif t.channel is None:
                    key = t.reason or "skipped"
                    out.skipped[key] = out.skipped.get(key, 0) + 1
                else:
                    out.by_channel[t.channel] = out.by_channel.get(t.channel, 0) + 1
                if len(out.sample) < sample_size:
                    out.sample.append(t)
        return out

    def send_at(self, campaign: CampaignConfig, target: Target) -> datetime | None:
        try:
            return send_at(campaign, target.timezone)
        except UnknownTimeZone:
            return None

    async def _segment(
        self, campaign: CampaignConfig, *, zones: set[str] | None, unsent_only: bool
    ) -> AsyncIterator[list[Any]]:
        seg = campaign.segment
        conditions = [customers.c.merged_into.is_(None)]
        if zones is not None:
            conditions.append(customers.c.timezone.in_(sorted(zones)))
        if seg.has_purchase_filter:
            bought = [purchases.c.customer_id == customers.c.id]
            if seg.purchased_after is not None:
                bought.append(purchases.c.purchased_at >= _midnight(seg.purchased_after))
            if seg.purchased_before is not None:
                bought.append(purchases.c.purchased_at < _midnight(seg.purchased_before))
            if seg.purchase_above is not None:
                bought.append(purchases.c.amount > seg.purchase_above)
            conditions.append(exists().where(and_(*bought)))
        if seg.open_ticket is not None:
            has_open = exists().where(
                tickets.c.customer_id == customers.c.id, tickets.c.status.in_(OPEN_STATUSES)
            )
            conditions.append(has_open if seg.open_ticket else ~has_open)
        sent = exists().where(
            campaign_sends.c.campaign == campaign.name,
            campaign_sends.c.customer_id == customers.c.id,
        )
        if unsent_only:
            conditions.append(~sent)
        last_id = 0
        while True:
            async with self.store.read() as conn:
                rows = (
                    await conn.execute(
                        select(
                            customers.c.id,
                            customers.c.display_name,
                            customers.c.locale,
                            customers.c.timezone,
                            customers.c.tags,
                            customers.c.address,
                            sent.label("already_sent"),
                        )
                        .where(*conditions, customers.c.id > last_id)
                        .order_by(customers.c.id)
                        .limit(self.page_size)
                    )
                ).all()
            if not rows:
                return
            last_id = rows[-1].id
            # Tags and country live in JSON columns, filtered here on both dialects alike.
            page = [r for r in rows if in_segment(seg, r.tags, r.locale, r.address)]
            if page:
                yield page

    async def _plan(self, campaign: CampaignConfig, rows: list[Any], now: datetime) -> list[Target]:
        ids = [r.id for r in rows]
        async with self.store.read() as conn:
            reach = await self._reach(conn, ids, campaign.channel_order, now)
        out = []
        for r in rows:
            who = Recipient(
                r.id,
                r.locale,
                campaign.channel_order,
                campaign.approved_templates.get,
                lambda r=r: self._values(campaign, r.display_name),
            )
            out.append(
                Target(
                    r.id,
                    r.display_name,
                    r.locale,
                    r.timezone,
                    already_sent=bool(r.already_sent),
                    **self._deliver(reach, who),
                )
            )
        return out

    def _values(self, campaign: CampaignConfig, name: str | None) -> dict[str, Any]:
        """What an approved template's parameters may name (CAMPAIGN_PARAMS, `param:<key>`)."""
        values: dict[str, Any] = {"customer_name": name, "signature": self.signature}
        values.update({f"param:{k}": v for k, v in campaign.params.items()})
        return values

    async def _queue(self, campaign: CampaignConfig, todo: list[Target], now: datetime) -> int:
        """Claim and queue a page of targets in one transaction; returns how many this
        sweep queued. The claim is the unique campaign_sends row (campaign, customer)."""
        # Rendered before the write lock is taken, so other writers wait less.
        messages = [((campaign.name, t.customer_id), self._outbound(campaign, t)) for t in todo]
        claims = Claims(
            campaign_sends,
            ("campaign", "customer_id"),
            [
                {
                    "campaign": campaign.name,
                    "customer_id": t.customer_id,
                    "channel": t.channel,
                    "created_at": now,
                }
                for t in todo
            ],
        )
        return await self._claim_and_enqueue(claims, messages, now)

    def _outbound(self, campaign: CampaignConfig, t: Target) -> Outbound:
        assert t.channel is not None
        unsubscribe = self._unsubscribe_url(t.customer_id, t.channel)
        rendered = self.replies.render(
            campaign.template,
            t.locale,
            {
                "customer": {"name": t.name},
                "campaign": campaign.name,
                "params": campaign.params,
                "signature": self.signature,
                "unsubscribe_url": unsubscribe,
                "timezone": t.timezone,
            },
        )
        letter = Letter(
            t.customer_id,
            t.name,
            f"campaign:{campaign.name}",
            f"campaign-{campaign.name}-{t.customer_id}",
            rendered,
            unsubscribe,
        )
        return self._compose(t, letter)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def pending_by_campaign(conn: AsyncConnection) -> dict[str, int]:
    """Queued campaign messages not yet sent, by campaign name (for /metrics)."""
    rows = await conn.execute(
        select(outbox.c.kind, func.count())
        .where(outbox.c.status == "pending", outbox.c.kind.like("campaign:%"))
        .group_by(outbox.c.kind)
    )
    return {kind.removeprefix("campaign:"): n for kind, n in rows}
