"""`hub demo seed`: ninety days of a support team's life in the demo database.

Made through the hub's own code, not by writing rows: each message goes through ingest, each
answer through an agent's reply, each solve through a status change, each rating through the
survey answers, at its own instant (the hub's one clock is moved to it). So the tickets,
their SLA clocks, the metric events and their rollup, the surveys and the assignment history
are what the hub would have written had it lived those days. Deterministic for a seed.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from hub.actions.reply import AgentReply, reply
from hub.actions.solved import AfterChange
from hub.actions.ticket_update import TicketChange, update_ticket
from hub.agents.accounts import Actor, load_actor, sync_agents
from hub.assembly import on_solve, open_core
from hub.config.loader import Config
from hub.connector import ConnectorRegistry
from hub.core.replies import Replies
from hub.customers.importer import import_customers
from hub.dedup.sweep import sweep as sweep_duplicates
from hub.demo.people import Person, near_duplicates, people
from hub.demo.texts import ANSWERS, CLOSING, COMMENTS, QUESTIONS
from hub.ingest.batch import ingest_batch
from hub.ingest.setup import IngestSetup
from hub.messages import Address, InboundMessage
from hub.sla.check import SlaCheck
from hub.store import Store, utcnow
from hub.store.schema import agents, outbox, tickets
from hub.surveys.answers import Answer, AnswerRules, record_answer, surveys_of_ticket


class SeedRefused(Exception):
    """The config or database is not one to seed; the message says why."""


class AlreadySeeded(SeedRefused):
    """The database has tickets: the history is not added twice."""


@dataclass
class SeedReport:
    customers: int = 0
    tickets: int = 0
    replies: int = 0
    ratings: int = 0
    seconds: float = 0.0


@dataclass
class _Plan:
    person: Person
    sender: Address
    arrive: datetime
    topic: int
    order: str
    ticket_id: int | None = None
    customer_id: int | None = None


@dataclass(order=True)
class _Step:
    at: datetime
    seq: int
    run: Callable[[], object] = field(compare=False)


async def has_history(store: Store) -> bool:
    async with store.read() as conn:
        return bool((await conn.execute(select(func.count()).select_from(tickets))).scalar())


@dataclass(frozen=True)
class SeedPlan:
    days: int = 90
    customers: int = 300
    seed: int = 2026
    # Customers with birthdays and addresses, a few of them one person twice: the review
    # queue's duplicates (imported like any CSV, then the duplicate sweep runs).
    import_csv: Path | None = None


async def seed_demo(config: Config, registry: ConnectorRegistry, plan: SeedPlan) -> SeedReport:
    """Seed the demo database; SeedRefused unless the config says `hub.demo: true` and the
    database has no tickets yet."""
    if not config.hub.demo:
        raise SeedRefused("this config is not a demo (hub.demo: true): it is never seeded")
    started = time.monotonic()
    replies = Replies(config.replies.templates_dir, config.hub.default_locale)
    async with contextlib.AsyncExitStack() as stack:
        core = await open_core(stack, config, registry, replies)
        if await has_history(core.store):
            raise AlreadySeeded(
                "the database already has tickets; the demo history is not added twice"
            )
        await sync_agents(core.store, config.agents)
        setup = IngestSetup(
            core.store,
            config,
            replies,
            core.metrics,
            core.channels.reply_routes(),
            explicit_threading=core.channels.threading_by_reference(),
            secret=core.secret,
            chat_connectors=core.channels.chats(),
        )
        history = _History(
            core.store,
            config,
            setup,
            AfterChange(setup.measure, on_solve(core), setup.sla),
            core.channels,
            random.Random(plan.seed),
        )
        await history.load_agents()
        report = await history.live(plan.days, plan.customers)
        if plan.import_csv is not None:
            await import_customers(core.store, config, plan.import_csv)
        await sweep_duplicates(core.store, config.duplicates)
        setup.clock = utcnow
        await SlaCheck(core.store, setup.sla).check(utcnow())
        await _delivered(core.store, utcnow())
    report.seconds = time.monotonic() - started
    return report


async def _delivered(store: Store, now: datetime) -> None:
    """What the history queued was sent at its time: the demo mails nobody from the past."""
    async with store.write() as conn:
        await conn.execute(
            update(outbox)
            .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
            .values(status="sent", sent_at=outbox.c.next_attempt_at, attempts=1)
        )


class _History:
    def __init__(
        self,
        store: Store,
        config: Config,
        setup: IngestSetup,
        after: AfterChange,
        channels: object,
        rng: random.Random,
    ) -> None:
        self.store, self.config, self.setup, self.after = store, config, setup, after
        self.channels = channels
        self.rng = rng
        self.zone = ZoneInfo(config.hub.timezone)
        self.team_agents: dict[str, list[Actor]] = {}
        self.steps: list[_Step] = []
        self.report = SeedReport()
        self.ticket_ids: set[int] = set()
        self.rules = AnswerRules(config.surveys.change_window_days, ZoneInfo(config.report_zone))

    async def load_agents(self) -> None:
        async with self.store.read() as conn:
            ids = (
                (await conn.execute(select(agents.c.id).where(agents.c.active.is_(True))))
                .scalars()
                .all()
            )
            for agent_id in ids:
                actor = await load_actor(conn, int(agent_id))
                if actor is None:
                    continue
                for team in actor.teams:
                    self.team_agents.setdefault(team, []).append(actor)
        if not self.team_agents:
            raise SeedRefused("the demo config has no agents in teams to answer the history")

    def _at(self, t: datetime) -> None:
        self.setup.clock = lambda: t

    def _add(self, at: datetime, run: Callable[[], object]) -> None:
        self.steps.append(_Step(at, len(self.steps), run))

    async def live(self, days: int, count: int) -> SeedReport:
        now = utcnow()
        start = now - timedelta(days=days)
        crowd = people(self.rng, count)
        for a, b in near_duplicates(self.rng):
            crowd += [a, b]
        self.report.customers = len(crowd)
        for n, person in enumerate(crowd):
            # Most write once, some twice or three times over the period.
            for _ in range(1 + (self.rng.random() < 0.3) + (self.rng.random() < 0.1)):
                arrive = self._office_time(start + timedelta(days=self.rng.uniform(0, days - 0.2)))
                if arrive < now:
                    self._plan(
                        _Plan(
                            person,
                            self._sender(person, n),
                            arrive,
                            0,
                            f"#{self.rng.randrange(10000, 99999)}",
                        ),
                        now,
                    )
        self.steps.sort()
        for step in self.steps:
            await step.run()  # type: ignore[misc]
        return self.report

    def _office_time(self, t: datetime) -> datetime:
        local = t.astimezone(self.zone)
        hour = self.rng.choice((9, 10, 10, 11, 12, 14, 15, 16, 17, 19, 21))
        return local.replace(hour=hour, minute=self.rng.randrange(60)).astimezone(t.tzinfo)

    def _sender(self, person: Person, n: int) -> Address:
        if person.channel == "chat":
            return Address("webchat", f"demo-visitor-{n:04d}", person.name)
        email = person.email or f"{n}@no-email.example"
        return Address("email", email, person.name)

    def _plan(self, plan: _Plan, now: datetime) -> None:
        rng = self.rng
        plan.topic = rng.randrange(len(QUESTIONS[plan.person.locale]))
        self._add(plan.arrive, lambda: self._arrive(plan, 0, plan.arrive))
        first = plan.arrive + timedelta(minutes=rng.lognormvariate(4.3, 1.0))
        if first >= now:
            return
        self._add(first, lambda at=first: self._answer(plan, at, solve=False))
        if rng.random() < 0.35:
            follow = first + timedelta(hours=rng.uniform(1, 20))
            second = follow + timedelta(minutes=rng.lognormvariate(4.0, 1.1))
            if second < now:
                self._add(follow, lambda at=follow: self._arrive(plan, 2, at))
                self._add(second, lambda at=second: self._answer(plan, at, solve=False))
                first = second
        solved = first + timedelta(hours=rng.uniform(0.5, 40))
        if solved >= now or rng.random() < 0.08:
            return  # still open: the backlog
        self._add(solved, lambda at=solved: self._answer(plan, at, solve=True))
        rated = solved + timedelta(hours=rng.uniform(1.5, 30))
        if rated < now and rng.random() < 0.6:
            self._add(rated, lambda at=rated: self._rate(plan, at))

    async def _arrive(self, plan: _Plan, which: int, t: datetime) -> None:
        person = plan.person
        subject, first, follow = QUESTIONS[person.locale][plan.topic]
        text = (first if which == 0 else follow).format(order=plan.order)
        identities = []
        if person.email and plan.sender.kind != "email":
            identities.append(Address("email", person.email))
        if person.phone:
            identities.append(Address("phone", person.phone))
        connector = "chat" if plan.sender.kind == "webchat" else "contact"
        msg = InboundMessage(
            channel="webchat" if connector == "chat" else "webform",
            connector_id=connector,
            external_id=f"demo:{id(plan)}:{which}:{plan.arrive.timestamp()}",
            sender=plan.sender,
            text=text,
            subject=None if connector == "chat" else subject,
            identities=tuple(identities),
            language=person.locale,
            reply_to=plan.sender,
            received_at=t,
        )
        self._at(t)
        async with self.store.write() as conn:
            (result,) = await ingest_batch(self.setup, conn, [msg], t)
        if isinstance(result, Exception):
            raise result
        if result.ticket_id is not None:
            self.ticket_ids.add(result.ticket_id)
            self.report.tickets = len(self.ticket_ids)
            plan.ticket_id, plan.customer_id = result.ticket_id, result.customer_id

    async def _answer(self, plan: _Plan, at: datetime, *, solve: bool) -> None:
        if plan.ticket_id is None:
            return
        self._at(at)
        async with self.store.read() as conn:
            row = (
                await conn.execute(
                    select(tickets.c.team_id, tickets.c.assignee, tickets.c.status).where(
                        tickets.c.id == plan.ticket_id
                    )
                )
            ).one()
        if row.status in ("solved", "closed"):
            return
        team = self.team_agents.get(row.team_id) or next(iter(self.team_agents.values()))
        actor = next((a for a in team if a.username == row.assignee), None)
        if actor is None:
            actor = self.rng.choice(team)
            await update_ticket(
                self.store,
                actor,
                plan.ticket_id,
                TicketChange(assignee=actor.username),
                notify=self.setup.notify,
                after=self.after,
            )
        locale = plan.person.locale
        text = (
            CLOSING[locale] if solve else self.rng.choice(ANSWERS[locale]).format(order=plan.order)
        )
        draft = AgentReply(plan.ticket_id, text, status="solved" if solve else None)
        await reply(self.store, actor, draft, self.channels, after=self.after)  # type: ignore[arg-type]
        self.report.replies += 1

    async def _rate(self, plan: _Plan, at: datetime) -> None:
        if plan.ticket_id is None:
            return
        rating = self.rng.choices((5, 4, 3, 2, 1), weights=(50, 25, 10, 8, 7))[0]
        comment = self.rng.choice(COMMENTS[plan.person.locale]) if self.rng.random() < 0.3 else None
        async with self.store.write() as conn:
            asked = [
                s
                for s in await surveys_of_ticket(conn, plan.ticket_id)
                if s.send_at <= at and s.rating is None
            ]
            if not asked:
                return
            await record_answer(
                self.store,
                conn,
                asked[-1],
                Answer(rating, comment, "link"),
                now=at,
                rules=self.rules,
            )
        self.report.ratings += 1
