"""Ingest: dedupe -> match customer -> thread or open ticket -> route -> reply, in one
transaction per message, committed in groups so a burst costs one disk flush per batch.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config import Config
from hub.connector import IngestUnavailable
from hub.customers import Customer, NewCustomer, resolve_customer
from hub.identity import normalize_address
from hub.language import detect_locale
from hub.messages import Address, InboundMessage, SubmitResult
from hub.metrics import Metrics
from hub.replies import Replies
from hub.routing import RouteInput, Router
from hub.store import Store, utcnow
from hub.store.schema import messages, outbox
from hub.tickets import Ticket, find_or_open_ticket, ticket_ref

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
            # One bad message must not sink the others: retry each on its own.
            for p in live:
                await self._commit_alone(p)
            return
        self._succeed(live, results)

    async def _commit_alone(self, p: _Pending) -> None:
        try:
            results = await self._transaction([p])
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

    async def _transaction(self, batch: list[_Pending]) -> list[SubmitResult]:
        async with self.store.write() as conn:
            now = utcnow()
            return [await self._ingest(conn, p.msg, now) for p in batch]

    def _succeed(self, batch: list[_Pending], results: list[SubmitResult]) -> None:
        queued = False
        for p, r in zip(batch, results, strict=True):
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
                .values(
                    channel=msg.channel,
                    external_id=msg.external_id,
                    connector_id=msg.connector_id,
                    direction="in",
                    sender=addrs[0].value,
                    subject=msg.subject,
                    body_text=msg.text[:MAX_TEXT_CHARS],
                    body_html=msg.html,
                    language=msg.language,
                    auto_submitted=msg.auto_submitted,
                    meta=msg.meta,
                    received_at=msg.received_at or now,
                    created_at=now,
                )
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
        assert msg.reply_to is not None
        route = self.reply_routes[msg.connector_id]
        to = normalize_address(msg.reply_to, self.config.hub.phone_region) or msg.reply_to
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
        await enqueue_outbound(
            self.store,
            conn,
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
            now=now,
        )


async def enqueue_outbound(
    store: Store,
    conn: AsyncConnection,
    *,
    connector_id: str,
    ticket_id: int | None,
    customer_id: int | None,
    to: Address,
    kind: str,
    subject: str | None,
    text: str,
    html: str | None,
    auto_submitted: bool,
    language: str | None,
    now: datetime,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
) -> int:
    """Record an outgoing message on its ticket and queue it, in the caller's transaction."""
    key = uuid.uuid4().hex
    message_id = (
        await conn.execute(
            messages.insert()
            .values(
                channel=connector_id,
                external_id=f"out:{key}",
                connector_id=connector_id,
                direction="out",
                ticket_id=ticket_id,
                customer_id=customer_id,
                sender=None,
                subject=subject,
                body_text=text,
                body_html=html,
                language=language,
                auto_submitted=auto_submitted,
                meta={"kind": kind, "to": to.value},
                received_at=now,
                created_at=now,
            )
            .returning(messages.c.id)
        )
    ).scalar_one()
    return (
        await conn.execute(
            outbox.insert()
            .values(
                connector_id=connector_id,
                ticket_id=ticket_id,
                message_id=message_id,
                idempotency_key=key,
                kind=kind,
                recipient_kind=to.kind,
                recipient=to.value,
                recipient_name=to.display_name,
                subject=subject,
                body_text=text,
                body_html=html,
                auto_submitted=auto_submitted,
                in_reply_to=in_reply_to,
                references=list(references),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .returning(outbox.c.id)
        )
    ).scalar_one()


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
