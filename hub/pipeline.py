"""Ingest: dedupe -> match customer -> thread or open ticket -> route -> reply, in one
transaction per message, committed in groups so a burst costs one disk flush per batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config import Config
from hub.connector import IngestUnavailable
from hub.customers import (
    Customer,
    CustomerRequest,
    NewCustomer,
    resolve_customer,
    resolve_customers,
)
from hub.identity import normalize_address
from hub.language import detect_locale
from hub.messages import Address, InboundMessage, SubmitResult
from hub.metrics import Metrics
from hub.outbound import Outbound, enqueue_outbound_many
from hub.replies import Replies
from hub.routing import RouteInput, Router
from hub.store import Store, utcnow
from hub.store.schema import messages
from hub.tickets import (
    Ticket,
    TicketRequest,
    find_or_open_ticket,
    find_or_open_tickets,
    ticket_ref,
)

log = logging.getLogger("hub.pipeline")

MAX_TEXT_CHARS = 200_000


class InvalidMessage(ValueError):
    """The connector handed over a message the core cannot accept (no usable sender)."""


@dataclass(frozen=True)
class ReplyRoute:
    connector_id: str


@dataclass
class _Pending:
    msg: InboundMessage
    future: asyncio.Future[SubmitResult]


class Pipeline:
    def __init__(
        self,
        store: Store,
        config: Config,
        replies: Replies,
        metrics: Metrics,
        reply_routes: dict[str, ReplyRoute],
        on_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.config = config
        self.router = Router(config.routing)
        self.replies = replies
        self.metrics = metrics
        self.reply_routes = reply_routes
        self.on_outbox = on_outbox
        self.team_names = {t.id: t.name for t in config.teams}
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._max_batch = config.ingest.max_batch

    async def submit(self, msg: InboundMessage) -> SubmitResult:
        """Store the message durably; returns only after its transaction committed."""
        future: asyncio.Future[SubmitResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(msg, future))
        return await future

    async def run(self) -> None:
        """The single writer: takes whatever is queued, commits it as one group."""
        try:
            while True:
                batch = [await self._queue.get()]
                while len(batch) < self._max_batch and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                await self._commit_group(batch)
        finally:
            while not self._queue.empty():
                pending = self._queue.get_nowait()
                if not pending.future.done():
                    pending.future.set_exception(IngestUnavailable("the hub is shutting down"))

    async def _commit_group(self, batch: list[_Pending]) -> None:
        live = [p for p in batch if not p.future.done()]
        if not live:
            return
        try:
            results = await self._transaction(live)
        except (OperationalError, DBAPIError, OSError) as exc:
            if len(live) == 1 or not _retryable_alone(exc):
                self._fail(
                    live, IngestUnavailable(f"storage unavailable: {exc.__class__.__name__}")
                )
                log.error("ingest failed: storage error=%s", exc.__class__.__name__)
                return
            results = None
        except Exception:
            results = None
        if results is None:
            # One bad message (or a race with another process) must not sink the others:
            # retry each on its own, one statement at a time.
            for p in live:
                await self._commit_alone(p)
            return
        self._succeed(live, results)

    async def _commit_alone(self, p: _Pending) -> None:
        try:
            async with self.store.write() as conn:
                results: list[SubmitResult | Exception] = [
                    await self._ingest(conn, p.msg, utcnow())
                ]
        except InvalidMessage as exc:
            self._fail([p], exc)
        except (OperationalError, DBAPIError, OSError) as exc:
            log.error("ingest failed: storage error=%s", exc.__class__.__name__)
            self._fail([p], IngestUnavailable(f"storage unavailable: {exc.__class__.__name__}"))
        except Exception as exc:
            log.exception("ingest failed channel=%s", p.msg.channel)
            self.metrics.errors.labels(where="ingest").inc()
            self._fail([p], exc)
        else:
            self._succeed([p], results)

    async def _transaction(self, batch: list[_Pending]) -> list[SubmitResult | Exception]:
        async with self.store.write() as conn:
            return await self._ingest_many(conn, [p.msg for p in batch], utcnow())

    def _succeed(self, batch: list[_Pending], results: Sequence[SubmitResult | Exception]) -> None:
        queued = False
        for p, r in zip(batch, results, strict=True):
            if isinstance(r, Exception):
                if not p.future.done():
                    p.future.set_exception(r)
                continue
            if r.duplicate:
                self.metrics.duplicates.labels(channel=p.msg.channel).inc()
            else:
                self.metrics.messages_in.labels(channel=p.msg.channel).inc()
                queued = True
            if not p.future.done():
                p.future.set_result(r)
        if queued:
            self.on_outbox()

    @staticmethod
    def _fail(batch: list[_Pending], exc: Exception) -> None:
        for p in batch:
            if not p.future.done():
                p.future.set_exception(exc)

    async def _ingest_many(
        self, conn: AsyncConnection, msgs: list[InboundMessage], now: datetime
    ) -> list[SubmitResult | Exception]:
        """What `_ingest` does for each message in turn, with a few statements per batch.

        A round trip to the database (through aiosqlite's thread, or to PostgreSQL) costs
        far more than the work each one does; a batch of any size takes about ten. Where
        one message at a time would have met another process's concurrent write, this
        raises, and the caller retries each message with `_ingest`.
        """
        normalize = self._normalizer()
        results: list[SubmitResult | Exception | None] = [None] * len(msgs)
        valid: list[tuple[int, list[Address]]] = []
        for i, msg in enumerate(msgs):
            addrs = _unique(n for a in (msg.sender, *msg.identities) if (n := normalize(a)))
            if addrs:
                valid.append((i, addrs))
            else:
                results[i] = InvalidMessage("the message has no usable sender identity")
        if not valid:
            return [r for r in results if r is not None]

        inserted = await conn.execute(
            self.store.insert(messages)
            .on_conflict_do_nothing(index_elements=["channel", "external_id"])
            .returning(messages.c.id, messages.c.channel, messages.c.external_id),
            [_inbound_row(msgs[i], addrs[0], now) for i, addrs in valid],
        )
        new_ids = {(r.channel, r.external_id): r.id for r in inserted}
        fresh: list[tuple[int, list[Address], int]] = []
        duplicates: list[int] = []
        for i, addrs in valid:
            # The first of several posts with one key was inserted; the rest are redeliveries.
            message_id = new_ids.pop((msgs[i].channel, msgs[i].external_id), None)
            if message_id is None:
                duplicates.append(i)
            else:
                fresh.append((i, addrs, message_id))

        if fresh:
            resolved = await resolve_customers(
                self.store,
                conn,
                [
                    CustomerRequest(addrs, _new_customer_factory(self, msgs[i]))
                    for i, addrs, _ in fresh
                ],
            )
            found = [customer for customer, _ in resolved]
            routes = [
                self.router.route(
                    RouteInput(
                        channel=msgs[i].channel,
                        connector_id=msgs[i].connector_id,
                        subject=msgs[i].subject or "",
                        body=msgs[i].text,
                        customer_tags=frozenset(customer.tags),
                        locale=customer.locale,
                    )
                )
                for (i, _, _), customer in zip(fresh, found, strict=True)
            ]
            threads = await find_or_open_tickets(
                self.store,
                conn,
                [
                    TicketRequest(
                        customer_id=customer.id,
                        channel=msgs[i].channel,
                        connector_id=msgs[i].connector_id,
                        subject=msgs[i].subject,
                        route=route,
                    )
                    for (i, _, _), customer, route in zip(fresh, found, routes, strict=True)
                ],
                now,
                new_customers={customer.id for customer, created in resolved if created},
            )
            await conn.execute(
                update(messages)
                .where(messages.c.id == bindparam("message_id"))
                .values(ticket_id=bindparam("ticket_id"), customer_id=bindparam("customer_id")),
                [
                    {"message_id": message_id, "ticket_id": ticket.id, "customer_id": customer.id}
                    for (_, _, message_id), customer, (ticket, _) in zip(
                        fresh, found, threads, strict=True
                    )
                ],
            )
            acks = [
                self._acknowledgement(msgs[i], customer, ticket, now, normalize)
                for (i, _, _), customer, (ticket, opened) in zip(fresh, found, threads, strict=True)
                if opened and self._should_acknowledge(msgs[i])
            ]
            await enqueue_outbound_many(self.store, conn, acks, now=now)
            for (i, _, message_id), customer, (ticket, _) in zip(
                fresh, found, threads, strict=True
            ):
                results[i] = SubmitResult(
                    message_id, ticket.id, ticket.ref, customer.id, duplicate=False
                )

        if duplicates:
            # Looked up last: a redelivery of a message earlier in this batch sees its ticket.
            for i, result in zip(
                duplicates, await self._duplicates(conn, [msgs[i] for i in duplicates]), strict=True
            ):
                results[i] = result
        done = [r for r in results if r is not None]
        assert len(done) == len(msgs)
        return done

    def _normalizer(self) -> Callable[[Address], Address | None]:
        """normalize_address, remembering its answers: a message's sender, identities and
        reply-to are mostly the same address, and validating an email is not cheap."""
        region = self.config.hub.phone_region
        seen: dict[Address, Address | None] = {}

        def normalize(addr: Address) -> Address | None:
            if addr not in seen:
                seen[addr] = normalize_address(addr, region)
            return seen[addr]

        return normalize

    async def _ingest(
        self, conn: AsyncConnection, msg: InboundMessage, now: datetime
    ) -> SubmitResult:
        region = self.config.hub.phone_region
        addrs = _unique(
            n for a in (msg.sender, *msg.identities) if (n := normalize_address(a, region))
        )
        if not addrs:
            raise InvalidMessage("the message has no usable sender identity")

        inserted = (
            await conn.execute(
                self.store.insert(messages)
                .values(**_inbound_row(msg, addrs[0], now))
                .on_conflict_do_nothing(index_elements=["channel", "external_id"])
                .returning(messages.c.id)
            )
        ).first()
        if inserted is None:
            return await self._duplicate(conn, msg)

        customer, _created = await resolve_customer(
            self.store,
            conn,
            addrs,
            NewCustomer(
                display_name=msg.sender.display_name,
                locale=self._new_customer_locale(msg),
                timezone=self.config.hub.timezone,
            ),
        )
        route = self.router.route(
            RouteInput(
                channel=msg.channel,
                connector_id=msg.connector_id,
                subject=msg.subject or "",
                body=msg.text,
                customer_tags=frozenset(customer.tags),
                locale=customer.locale,
            )
        )
        ticket, opened = await find_or_open_ticket(
            self.store,
            conn,
            customer_id=customer.id,
            channel=msg.channel,
            connector_id=msg.connector_id,
            subject=msg.subject,
            route=route,
            now=now,
        )
        await conn.execute(
            update(messages)
            .where(messages.c.id == inserted.id)
            .values(ticket_id=ticket.id, customer_id=customer.id)
        )
        if opened and self._should_acknowledge(msg):
            await self._queue_acknowledgement(conn, msg, customer, ticket, now)
        return SubmitResult(inserted.id, ticket.id, ticket.ref, customer.id, duplicate=False)

    async def _duplicate(self, conn: AsyncConnection, msg: InboundMessage) -> SubmitResult:
        row = (
            await conn.execute(
                select(messages.c.id, messages.c.ticket_id, messages.c.customer_id).where(
                    messages.c.channel == msg.channel, messages.c.external_id == msg.external_id
                )
            )
        ).one()
        return SubmitResult(row.id, row.ticket_id, ticket_ref(row.ticket_id), row.customer_id, True)

    async def _duplicates(
        self, conn: AsyncConnection, msgs: list[InboundMessage]
    ) -> list[SubmitResult]:
        found: dict[tuple[str, str], SubmitResult] = {}
        for channel in sorted({m.channel for m in msgs}):
            rows = await conn.execute(
                select(
                    messages.c.id,
                    messages.c.ticket_id,
                    messages.c.customer_id,
                    messages.c.external_id,
                ).where(
                    messages.c.channel == channel,
                    messages.c.external_id.in_(
                        sorted({m.external_id for m in msgs if m.channel == channel})
                    ),
                )
            )
            for r in rows:
                found[(channel, r.external_id)] = SubmitResult(
                    r.id, r.ticket_id, ticket_ref(r.ticket_id), r.customer_id, True
                )
        return [found[(m.channel, m.external_id)] for m in msgs]

    def _new_customer_locale(self, msg: InboundMessage) -> str:
        locales = self.config.hub.locales
        if msg.language in locales:
            return msg.language
        return detect_locale(msg.text, locales) or self.config.hub.default_locale

    def _should_acknowledge(self, msg: InboundMessage) -> bool:
        return (
            self.config.replies.acknowledge_new_tickets
            and not msg.auto_submitted
            and msg.reply_to is not None
            and msg.connector_id in self.reply_routes
        )

    async def _queue_acknowledgement(
        self,
        conn: AsyncConnection,
        msg: InboundMessage,
        customer: Customer,
        ticket: Ticket,
        now: datetime,
    ) -> None:
        await enqueue_outbound_many(
            self.store, conn, [self._acknowledgement(msg, customer, ticket, now)], now=now
        )

    def _acknowledgement(
        self,
        msg: InboundMessage,
        customer: Customer,
        ticket: Ticket,
        now: datetime,
        normalize: Callable[[Address], Address | None] | None = None,
    ) -> Outbound:
        assert msg.reply_to is not None
        route = self.reply_routes[msg.connector_id]
        normalize = normalize or self._normalizer()
        to = normalize(msg.reply_to) or msg.reply_to
        rendered = self.replies.render(
            self.config.replies.acknowledgement_template,
            customer.locale,
            {
                "customer": {"name": customer.display_name, "locale": customer.locale},
                "ticket": {"ref": ticket.ref, "subject": ticket.subject, "created_at": now},
                "team": {"id": ticket.team_id, "name": self.team_names.get(ticket.team_id, "")},
                "signature": self.config.replies.signature,
                "timezone": customer.timezone,
            },
        )
        return Outbound(
            connector_id=route.connector_id,
            ticket_id=ticket.id,
            customer_id=customer.id,
            to=to,
            kind="acknowledgement",
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            auto_submitted=True,
            language=rendered.locale,
        )


def _inbound_row(msg: InboundMessage, sender: Address, now: datetime) -> dict[str, Any]:
    return {
        "channel": msg.channel,
        "external_id": msg.external_id,
        "connector_id": msg.connector_id,
        "direction": "in",
        "sender": sender.value,
        "subject": msg.subject,
        "body_text": msg.text[:MAX_TEXT_CHARS],
        "body_html": msg.html,
        "language": msg.language,
        "auto_submitted": msg.auto_submitted,
        "meta": msg.meta,
        "received_at": msg.received_at or now,
        "created_at": now,
    }


def _new_customer_factory(pipeline: Pipeline, msg: InboundMessage) -> Callable[[], NewCustomer]:
    def make() -> NewCustomer:
        return NewCustomer(
            display_name=msg.sender.display_name,
            locale=pipeline._new_customer_locale(msg),
            timezone=pipeline.config.hub.timezone,
        )

    return make


def _unique(addrs: object) -> list[Address]:
    seen: set[tuple[str, str]] = set()
    out = []
    for a in addrs:  # type: ignore[attr-defined]
        if (a.kind, a.value) not in seen:
            seen.add((a.kind, a.value))
            out.append(a)
    return out


def _retryable_alone(exc: Exception) -> bool:
    """An integrity or data error may be one message's fault; a lost connection is not."""
    return "IntegrityError" in type(exc).__name__ or "DataError" in type(exc).__name__
