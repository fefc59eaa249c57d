"""The greetings sweep: find who is due now with an indexed query, queue each greeting once.

`hub.proactive.greetings` decides dates and instants (pure); this module finds the
candidates by their month/day columns and renders each greeting. hub.proactive.sweep picks
the channel and writes the unique (customer, occasion, year) record in the same
transaction as the outbox row, so a second sweep, a restart or a second hub process on the
same database queues nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.greetings import GreetingRules, GreetingsConfig
from hub.customers.occasions import month_day
from hub.outbox.enqueue import Outbound
from hub.proactive.greetings import (
    CustomerOccasions,
    Greeting,
    Occasion,
    UnknownTimeZone,
    due_greetings,
    greetings_in_year,
    load_zone,
    sweep_window,
)
from hub.proactive.sweep import Claims, D, Delivery, Letter, SweepDeps, Sweeper, Tally
from hub.proactive.templates import Recipient
from hub.store import utcnow
from hub.store.schema import customers, greeting_sends

log = logging.getLogger("hub.proactive.greetings")

# Candidates planned and queued together. Fewer, larger pages save round trips and
# transactions (a quarter of a million-customer sweep's CPU against 1000); the bound is the
# already-sent lookup, at most 3 greetings x 3 columns per customer = 18,000 parameters,
# under SQLite's 32,766 and asyncpg's 32,767.
PAGE = 2000


@dataclass(frozen=True)
class Planned(Delivery):
    greeting: Greeting
    customer_name: str | None


@dataclass
class SweepResult(Tally):
    due: int = 0

    def sort_out(self, plans: Sequence[D]) -> list[D]:
        self.due += len(plans)
        return super().sort_out(plans)


class GreetingSweeper(Sweeper):
    def __init__(self, deps: SweepDeps, config: GreetingsConfig, *, page_size: int = PAGE) -> None:
        super().__init__(deps, page_size)
        self.config = config
        self.rules: GreetingRules = config.rules()

    async def sweep(self, now: datetime | None = None) -> SweepResult:
        """Queue every greeting due at `now`; safe to run as often and as many times as wanted."""
        now = now or utcnow()
        window = sweep_window(now, self.rules)
        # customer_since comes from created_at's UTC date: its local date may be a day off.
        since_days = {
            month_day(window.first_date + timedelta(days=i))
            for i in range(-1, (window.last_date - window.first_date).days + 2)
        }
        result = SweepResult()
        await self._queue_pages(
            self._candidates(set(window.month_day_numbers), since_days),
            lambda page: self._plan(page, lambda c: due_greetings(now, c, self.rules), now),
            lambda todo: self._queue(todo, now),
            result,
        )
        if result.queued or result.skipped:
            log.info(
                "greetings sweep candidates=%s due=%s queued=%s already=%s skipped=%s",
                result.candidates,
                result.due,
                result.queued,
                result.already,
                result.skipped,
            )
        return result

    async def preview(self, on: date) -> list[Planned]:
        """Everyone whose occasion falls on `on` (their local date): what, when, how, or why not."""
        md = {month_day(on)}
        stands_in = (2, 28) if self.rules.feb29 == "feb28" else (3, 1)
        if (on.month, on.day) == stands_in:
            md.add(229)
        since = {month_day(on + timedelta(days=d)) for d in (-1, 0, 1)}
        out: list[Planned] = []

        def on_the_day(c: CustomerOccasions) -> Iterable[Greeting]:
            return [g for g in greetings_in_year(c, on.year, self.rules) if g.local_date == on]

        async for page in self._candidates(md, since):
            # Reply windows as they are now: the preview cannot know who writes later.
            out += await self._plan(page, on_the_day, utcnow())
        return sorted(out, key=lambda p: (p.greeting.send_at, p.greeting.key))

    async def _candidates(self, md: set[int | None], since: set[int | None]) -> Any:
        occasions = self.rules.occasions
        conditions = []
        if "birthday" in occasions:
            conditions.append(customers.c.birthday_md.in_(md))
        if "anniversary" in occasions:
            conditions.append(customers.c.anniversary_md.in_(md))
        if "customer_since" in occasions:
            conditions.append(customers.c.since_md.in_(since))
        if not conditions:
            return
        wanted = (or_(*conditions), customers.c.merged_into.is_(None))
        # The ids first, in one query the indexes answer (one OR of index lookups), then the
        # rows page by page by primary key. Keyset pages over the OR itself (`id > last ORDER
        # BY id LIMIT n`) made SQLite redo the OR and sort the rest of it for every page:
        # quadratic in the candidates, seconds at a million customers.
        async with self.store.read() as conn:
            ids = sorted((await conn.execute(select(customers.c.id).where(*wanted))).scalars())
        for i in range(0, len(ids), self.page_size):
            async with self.store.read() as conn:
                rows = (
                    await conn.execute(
                        select(
                            customers.c.id,
                            customers.c.display_name,
                            customers.c.locale,
                            customers.c.timezone,
                            customers.c.birthday,
                            customers.c.anniversary,
                            customers.c.created_at,
                        )
                        # Asked again: a customer merged or changed since the ids were read
                        # is no longer a candidate.
                        .where(customers.c.id.in_(ids[i : i + self.page_size]), *wanted)
                        .order_by(customers.c.id)
                    )
                ).all()
            if rows:
                yield rows

    async def _plan(self, rows: list[Any], pick: Any, now: datetime) -> list[Planned]:
        found: list[tuple[Greeting, Any]] = []
        for row in rows:
            try:
                zone = load_zone(row.timezone)
            except UnknownTimeZone:
                log.warning("greetings skip customer=%s reason=unknown-time-zone", row.id)
                continue
            occasions = []
            if row.birthday:
                occasions.append(Occasion("birthday", row.birthday))
            if row.anniversary:
                occasions.append(Occasion("anniversary", row.anniversary))
            occasions.append(Occasion("customer_since", row.created_at.astimezone(zone).date()))
            c = CustomerOccasions(row.id, row.timezone, row.locale, tuple(occasions))
            found += [(g, row) for g in pick(c)]
        if not found:
            return []
        ids = list({row.id for _, row in found})
        order = self.config.channel_order
        async with self.store.read() as conn:
            sent = await self._sent_keys(conn, [g for g, _ in found])
            reach = await self._reach(conn, ids, order, now)
        plans = []
        for g, row in found:
            who = Recipient(
                row.id,
                g.locale,
                order,
                lambda channel, g=g: self.config.template_for(channel, g.key.occasion),
                lambda g=g, row=row: self._values(g, row.display_name),
            )
            plans.append(
                Planned(
                    g,
                    row.display_name,
                    already_sent=g.key in sent,
                    **self._deliver(reach, who),
                )
            )
        return plans

    def _values(self, g: Greeting, name: str | None) -> dict[str, Any]:
        """What an approved template's parameters may name (GREETING_PARAMS)."""
        return {
            "customer_name": name,
            "years": g.years,
            "offer": self.config.offer_for(g.locale),
            "signature": self.signature,
        }

    async def _sent_keys(self, conn: AsyncConnection, greetings: list[Greeting]) -> set[Any]:
        keys = {(g.key.customer_id, g.key.occasion, g.key.year) for g in greetings}
        rows = await conn.execute(
            select(
                greeting_sends.c.customer_id, greeting_sends.c.occasion, greeting_sends.c.year
            ).where(
                tuple_(
                    greeting_sends.c.customer_id, greeting_sends.c.occasion, greeting_sends.c.year
                ).in_(list(keys))
            )
        )
        done = {tuple(r) for r in rows}
        return {g.key for g in greetings if (g.key.customer_id, g.key.occasion, g.key.year) in done}

    async def _queue(self, plans: list[Planned], now: datetime) -> int:
        """Claim and queue `plans` in one transaction; returns how many this sweep queued.
        The claim is the unique greeting_sends row (customer, occasion, year)."""
        # Rendered before the write lock is taken, so other writers wait less; plans that
        # another sweep claims meanwhile (rare: `_plan` left out what was sent) are dropped.
        messages = [
            (
                (p.greeting.key.customer_id, p.greeting.key.occasion, p.greeting.key.year),
                self._outbound(p),
            )
            for p in plans
        ]
        claims = Claims(
            greeting_sends,
            ("customer_id", "occasion", "year"),
            [
                {
                    "customer_id": p.greeting.key.customer_id,
                    "occasion": p.greeting.key.occasion,
                    "year": p.greeting.key.year,
                    "channel": p.channel,
                    "created_at": now,
                }
                for p in plans
            ],
        )
        return await self._claim_and_enqueue(claims, messages, now)

    def _outbound(self, plan: Planned) -> Outbound:
        g = plan.greeting
        assert plan.channel is not None
        unsubscribe = self._unsubscribe_url(g.key.customer_id, plan.channel)
        since_years = g.years if g.key.occasion == "customer_since" else None
        rendered = self.replies.render(
            g.key.occasion,
            g.locale,
            {
                "customer": {"name": plan.customer_name, "years_as_customer": since_years},
                "years": g.years,
                "occasion_date": g.origin,
                "offer": self.config.offer_for(g.locale),
                "signature": self.signature,
                "unsubscribe_url": unsubscribe,
                "timezone": g.timezone,
            },
        )
        letter = Letter(
            g.key.customer_id,
            plan.customer_name,
            f"greeting:{g.key.occasion}",
            g.key.token.replace(":", "-"),
            rendered,
            unsubscribe,
        )
        return self._compose(plan, letter)
