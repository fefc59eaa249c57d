"""What the greetings and campaign sweeps share: who the message can reach and how, the
once-only claim written with its outbox row, the rendered message as an outbox row.

A sweep pages through its candidates (hub.proactive.greeting_sweep decides who is due
for which occasion, hub.proactive.campaign_sweep who is in a campaign's segment and
zone), plans each message's delivery (the first channel in `channel_order` with consent,
a reachable identity and, outside a reply window, an approved template), and queues a
page in one transaction: a unique claim row per message and, only for the claims that
transaction inserted, the outbox row (hub.outbox.enqueue). A second sweep, a restart or
a second hub process on the same database therefore queues nothing twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.core.metrics import Metrics
from hub.core.replies import Rendered, Replies
from hub.customers.consent import make_opt_out_token
from hub.messages import Address, TemplateMessage
from hub.outbox.enqueue import Outbound, enqueue_outbound_many
from hub.proactive.reach import consents_of, reachable_of
from hub.proactive.templates import Reach, Recipient, choose_delivery, template_text, windows_of
from hub.store import Store


@dataclass(frozen=True)
class SweepDeps:
    """What a sweeper needs from the hub or a CLI run (hub.proactive.factory builds it)."""

    store: Store
    replies: Replies
    # channel (identity kind, as in consents) -> the connector that sends to it
    senders: dict[str, str]
    public_url: str
    secret: bytes  # signs the opt-out links
    signature: str
    # connector id -> its reply window in hours (ChannelDirectory.window_hours)
    windows: dict[str, float] = field(default_factory=dict)
    metrics: Metrics | None = None


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """How one planned message goes, or why it does not."""

    channel: str | None  # None: skipped, see reason
    address: str | None
    reason: str | None
    already_sent: bool = False
    # Outside a reply window (WhatsApp): the approved template that goes instead of text.
    template: TemplateMessage | None = None


D = TypeVar("D", bound=Delivery)


@dataclass
class Tally:
    """What a sweep did with its candidates."""

    candidates: int = 0
    queued: int = 0
    already: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def sort_out(self, plans: Sequence[D]) -> list[D]:
        """Counts the plans already sent and those skipped (by reason); returns the rest."""
        todo = []
        for plan in plans:
            if plan.already_sent:
                self.already += 1
            elif plan.channel is None:
                key = plan.reason or "skipped"
                self.skipped[key] = self.skipped.get(key, 0) + 1
            else:
                todo.append(plan)
        return todo


@dataclass(frozen=True)
class Claims:
    """The unique rows that make each send once-only, one per message: a row another
    sweep or process inserted first keeps the message its own."""

    table: Table
    key_columns: tuple[str, ...]  # the unique index; a message's key is these values
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class Letter:
    """One planned message as rendered, with what names it in the outbox."""

    customer_id: int
    name: str | None
    kind: str
    idempotency_key: str
    rendered: Rendered
    unsubscribe: str


class Sweeper:
    """The shared part of a sweep; subclasses find the candidates and render the message."""

    def __init__(self, deps: SweepDeps, page_size: int) -> None:
        self.deps = deps
        self.store = deps.store
        self.replies = deps.replies
        self.senders = deps.senders
        self.public_url = deps.public_url.rstrip("/")
        self.secret = deps.secret
        self.signature = deps.signature
        self.windows = deps.windows
        self.metrics = deps.metrics
        self.page_size = page_size

    async def _queue_pages(
        self,
        pages: AsyncIterator[list[Any]],
        plan: Callable[[list[Any]], Awaitable[list[D]]],
        queue: Callable[[list[D]], Awaitable[int]],
        tally: Tally,
    ) -> None:
        async for page in pages:
            tally.candidates += len(page)
            todo = tally.sort_out(await plan(page))
            if todo:
                queued = await queue(todo)
                tally.queued += queued
                tally.already += len(todo) - queued

    async def _reach(
        self, conn: AsyncConnection, ids: list[int], channel_order: Sequence[str], now: datetime
    ) -> Reach:
        return Reach(
            self.senders,
            await consents_of(conn, ids),
            await reachable_of(conn, ids, channel_order),
            await windows_of(conn, ids, self.windows, self.senders, channel_order, now),
        )

    @staticmethod
    def _deliver(reach: Reach, who: Recipient) -> dict[str, Any]:
        """A Delivery's fields for `who` (channel, address, reason, template)."""
        channel, address, reason, template = choose_delivery(reach, who)
        return {"channel": channel, "address": address, "reason": reason, "template": template}

    async def _claim_and_enqueue(
        self,
        claims: Claims,
        messages: Sequence[tuple[tuple[Any, ...], Outbound]],
        now: datetime,
    ) -> int:
        """Claim and queue a page in one transaction; returns how many this sweep queued.

        A handful of statements per page rather than a few per message: on SQLite every
        statement is a round trip to the driver's thread, which dominated a large sweep.
        Only messages whose claim this transaction inserted get an outbox row.
        """
        table = claims.table
        async with self.store.write() as conn:
            # A list of parameters rather than one multi-row VALUES: the statement is
            # compiled once and cached, and SQLAlchemy still sends it in batches of many rows.
            rows = await conn.execute(
                self.store.insert(table)
                .on_conflict_do_nothing(index_elements=list(claims.key_columns))
                .returning(*(table.c[name] for name in claims.key_columns)),
                claims.rows,
            )
            won = {tuple(r) for r in rows}
            mine = [out for key, out in messages if key in won]
            await enqueue_outbound_many(conn, mine, now=now)
        return len(mine)

    def _unsubscribe_url(self, customer_id: int, channel: str) -> str:
        token = make_opt_out_token(customer_id, channel, self.secret)
        return f"{self.public_url}/unsubscribe/{token}"

    def _compose(self, plan: Delivery, letter: Letter) -> Outbound:
        assert plan.channel is not None and plan.address is not None
        rendered, tpl = letter.rendered, plan.template
        if tpl is not None:
            # Outside the reply window: the approved template, no free text, no opt-out link
            # in the body (Meta's template holds the wording; WhatsApp opt-out is by reply).
            text, html, subject = template_text(tpl), None, None
        else:
            text, html, subject = rendered.text, rendered.html, rendered.subject
        return Outbound(
            connector_id=self.senders[plan.channel],
            ticket_id=None,
            customer_id=letter.customer_id,
            to=Address(plan.channel, plan.address, letter.name),
            kind=letter.kind,
            subject=subject,
            text=text,
            html=html,
            auto_submitted=True,
            language=rendered.locale,
            consent_channel=plan.channel,
            list_unsubscribe=letter.unsubscribe,
            idempotency_key=letter.idempotency_key,
            template_message=tpl,
        )
