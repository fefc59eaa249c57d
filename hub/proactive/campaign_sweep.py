"""The campaign sweep: queue each campaign once per customer, at their local send hour.

For every enabled campaign whose send date is near, the sweep works out which time zones
are due now, selects the segment's customers in those zones who have no campaign row yet,
picks the first channel in `channel_order` with consent and a reachable identity, and
writes a unique (campaign, customer) row in the same transaction as the outbox row. A
second sweep, a restart or a second hub process therefore queues nothing twice. The
outbox checks consent again at send time and paces each connector by its
`rate_limit_per_minute`.
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
from hub.core.metrics import Metrics
from hub.core.replies import Replies
from hub.customers.consent import make_opt_out_token
from hub.messages import Address, TemplateMessage
from hub.outbox.enqueue import Outbound, enqueue_outbound_many
from hub.proactive.campaign_store import campaigns_in_effect
from hub.proactive.campaigns import due_zones, in_segment, may_be_due, send_at
from hub.proactive.greetings import UnknownTimeZone
from hub.proactive.reach import consents_of, reachable_of
from hub.proactive.templates import choose_delivery, template_text, windows_of
from hub.store import Store, utcnow
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
class Target:
    customer_id: int
    name: str | None
    locale: str
    timezone: str
    channel: str | None  # None: skipped, see reason
    address: str | None
    reason: str | None
    already_sent: bool = False
    # Outside a reply window (WhatsApp): the approved template that goes instead of text.
    template: TemplateMessage | None = None


@dataclass
class CampaignResult:
    campaign: str
    candidates: int = 0
    queued: int = 0
    already: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass
class Preview:
    campaign: CampaignConfig
    in_segment: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    already_sent: int = 0
    sample: list[Target] = field(default_factory=list)


class CampaignSweeper:
    def __init__(
        self,
        store: Store,
        campaigns: list[CampaignConfig],
        replies: Replies,
        senders: dict[str, str],
        *,
        public_url: str,
        secret: bytes,
        signature: str,
        metrics: Metrics | None = None,
        page_size: int = PAGE,
        windows: dict[str, float] | None = None,
    ) -> None:
        self.store = store
        # connector id -> its reply window in hours (ChannelDirectory.window_hours)
        self.windows = windows or {}
        self.campaigns = campaigns
        self.replies = replies
        # channel (identity kind, as in consents) -> the connector that sends to it
        self.senders = senders
        self.public_url = public_url.rstrip("/")
        self.secret = secret
        self.signature = signature
        self.metrics = metrics
        self.page_size = page_size

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
        result = CampaignResult(campaign.name)
        async with self.store.read() as conn:
            zones = (
                await conn.execute(
                    select(customers.c.timezone).where(customers.c.merged_into.is_(None)).distinct()
                )
            ).scalars()
            due = due_zones(campaign, list(zones), now)
        if not due:
            return result
        async for page in self._segment(campaign, zones=due, unsent_only=True):
            result.candidates += len(page)
            targets = await self._plan(campaign, page, now)
            todo = []
            for t in targets:
                if t.channel is None:
                    key = t.reason or "skipped"
                    result.skipped[key] = result.skipped.get(key, 0) + 1
                else:
                    todo.append(t)
            if todo:
                queued = await self._queue(campaign, todo, now)
                result.queued += queued
                result.already += len(todo) - queued
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
            consent = await consents_of(conn, ids)
            reachable = await reachable_of(conn, ids, campaign.channel_order)
            windows = await windows_of(
                conn, ids, self.windows, self.senders, campaign.channel_order, now
            )
        out = []
        for r in rows:
            channel, address, reason, template = choose_delivery(
                r.id,
                campaign.channel_order,
                self.senders,
                consent,
                reachable,
                windows,
                campaign.approved_templates.get,
                r.locale,
                lambda r=r: self._values(campaign, r.display_name),
            )
            out.append(
                Target(
                    r.id,
                    r.display_name,
                    r.locale,
                    r.timezone,
                    channel,
                    address,
                    reason,
                    bool(r.already_sent),
                    template,
                )
            )
        return out

    def _values(self, campaign: CampaignConfig, name: str | None) -> dict[str, Any]:
        """What an approved template's parameters may name (CAMPAIGN_PARAMS, `param:<key>`)."""
        values: dict[str, Any] = {"customer_name": name, "signature": self.signature}
        values.update({f"param:{k}": v for k, v in campaign.params.items()})
        return values

    async def _queue(self, campaign: CampaignConfig, todo: list[Target], now: datetime) -> int:
        """Claim and queue a page of targets in one transaction, in a few statements (as the
        greetings sweep does); returns how many this sweep queued. The claim is the unique
        campaign_sends row: only targets whose row this transaction inserted get an outbox
        row, so another sweep or process that got there first keeps its own."""
        # Rendered before the write lock is taken, so other writers wait less.
        messages = {t.customer_id: self._outbound(campaign, t) for t in todo}
        async with self.store.write() as conn:
            claimed = await conn.execute(
                self.store.insert(campaign_sends)
                .on_conflict_do_nothing(index_elements=["campaign", "customer_id"])
                .returning(campaign_sends.c.customer_id),
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
            won = {r.customer_id for r in claimed}
            mine = [out for cid, out in messages.items() if cid in won]
            await enqueue_outbound_many(self.store, conn, mine, now=now)
        return len(mine)

    def _outbound(self, campaign: CampaignConfig, t: Target) -> Outbound:
        assert t.channel is not None and t.address is not None
        token = make_opt_out_token(t.customer_id, t.channel, self.secret)
        unsubscribe = f"{self.public_url}/unsubscribe/{token}"
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
        # Outside a reply window the approved template goes; the record says which.
        tpl = t.template
        return Outbound(
            connector_id=self.senders[t.channel],
            ticket_id=None,
            customer_id=t.customer_id,
            to=Address(t.channel, t.address, t.name),
            kind=f"campaign:{campaign.name}",
            subject=None if tpl else rendered.subject,
            text=template_text(tpl) if tpl else rendered.text,
            html=None if tpl else rendered.html,
            template_message=tpl,
            auto_submitted=True,
            language=rendered.locale,
            consent_channel=t.channel,
            list_unsubscribe=unsubscribe,
            idempotency_key=f"campaign-{campaign.name}-{t.customer_id}",
        )


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
