"""Ingest: dedupe -> match customer -> thread or open ticket -> route -> reply, in one
transaction per message, committed in groups so a burst costs one disk flush per batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.channels.directory import ReplyRoute
from hub.config.loader import Config
from hub.connector import IngestUnavailable
from hub.core.identity import normalize_address
from hub.core.language import detect_locale
from hub.core.metrics import Metrics
from hub.core.replies import Replies
from hub.customers.consent import OPT_OUT, record_consent
from hub.customers.resolve import (
    Customer,
    CustomerRequest,
    IdentityRace,
    NewCustomer,
    resolve_customers,
)
from hub.faq.bot import FaqBot
from hub.faq.chatbot import BotTurn, decide
from hub.messages import Address, InboundMessage, SubmitResult
from hub.notify.events import NotifyRules, TicketEvent, record_events
from hub.outbox.enqueue import Outbound, enqueue_outbound_many
from hub.store import Store, utcnow
from hub.store.schema import attachments, messages, outbox, tickets
from hub.tickets.records import (
    Ticket,
    TicketRace,
    TicketRequest,
    close_open_ticket,
    conversation_of,
    find_or_open_tickets,
    open_ticket,
    open_tickets,
    ticket_key,
    ticket_ref,
    touch_ticket,
)
from hub.tickets.routing import RouteInput, Router
from hub.tickets.thread_match import (
    ThreadHints,
    match_thread,
    new_topics,
    our_keys,
    our_message_ids,
    subject_ticket_ids,
)

log = logging.getLogger("hub.ingest.pipeline")

MAX_TEXT_CHARS = 200_000
# A message that keeps losing races to other processes is refused (the sender retries).
RACE_RETRIES = 5


class InvalidMessage(ValueError):
    """The connector handed over a message the core cannot accept (no usable sender)."""


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
        *,
        explicit_threading: frozenset[str] = frozenset(),
        secret: Callable[[], bytes] = lambda: b"",
        chat_connectors: frozenset[str] = frozenset(),
        faq: FaqBot | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.router = Router(config.routing)
        self.notify = NotifyRules(config.routing, config.notifications)
        self.replies = replies
        self.metrics = metrics
        self.reply_routes = reply_routes
        self.on_outbox = on_outbox
        # Connectors (email) whose messages open a new ticket unless they name one.
        self.explicit_threading = explicit_threading
        # The hub's signing key, for thread markers; loaded at start, so a function.
        self.secret = secret
        # Live chats, answered by the bot first (hub.faq.chatbot), with the FAQ if one is set.
        self.chat_connectors = chat_connectors
        self.faq = faq
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
        for attempt in range(RACE_RETRIES):
            try:
                results = await self._transaction([p])
            except (IdentityRace, TicketRace):
                # Another process committed the same person or ticket meanwhile; a new
                # transaction sees it.
                if attempt + 1 < RACE_RETRIES:
                    continue
                self._fail([p], IngestUnavailable("storage busy: please retry"))
            except InvalidMessage as exc:
                self._fail([p], exc)
            except (OperationalError, DBAPIError, OSError) as exc:
                log.error("ingest failed: storage error=%s", exc.__class__.__name__)
                why = f"storage unavailable: {exc.__class__.__name__}"
                self._fail([p], IngestUnavailable(why))
            except Exception as exc:
                log.exception("ingest failed channel=%s", p.msg.channel)
                self.metrics.errors.labels(where="ingest").inc()
                self._fail([p], exc)
            else:
                self._succeed([p], results)
            return

    async def _transaction(self, batch: list[_Pending]) -> list[SubmitResult | Exception]:
        now = utcnow()
        results: list[SubmitResult | Exception] = []
        async with self.store.write() as conn:
            for part in self._split_after_end([p.msg for p in batch]):
                results += await self._ingest_many(conn, part, now)
        return results

    def _split_after_end(self, msgs: list[InboundMessage]) -> list[list[InboundMessage]]:
        """The group cut after each chat /end: a group finds its open tickets before its
        /end closes one, so words after an /end, in the same group, would thread onto the
        ticket being closed."""
        parts: list[list[InboundMessage]] = [[]]
        for msg in msgs:
            parts[-1].append(msg)
            if msg.connector_id in self.chat_connectors and _command(msg) == "end":
                parts.append([])
        return [p for p in parts if p]

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
        """Ingest a group of messages in one transaction, with a few statements per batch.

        A round trip to the database (through aiosqlite's thread, or to PostgreSQL) costs
        far more than the work each one does; a batch of any size takes about ten. Where
        it meets another process's concurrent write, this raises, and the caller retries
        each message alone in a fresh transaction (`_commit_alone`).
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
            self.store.statement(_insert_inbound),
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
            requests = [
                TicketRequest(
                    customer_id=customer.id,
                    channel=msgs[i].channel,
                    connector_id=msgs[i].connector_id,
                    subject=msgs[i].subject,
                    route=route,
                    conversation=_conversation(msgs[i]),
                )
                for (i, _, _), customer, route in zip(fresh, found, routes, strict=True)
            ]
            turns = await self._bot_turns(conn, [msgs[i] for i, _, _ in fresh], found)
            ticketed = [
                k for k in range(len(fresh)) if turns[k] is None or turns[k].action == "ticket"
            ]
            threads: list[tuple[Ticket, bool] | None] = [None] * len(fresh)
            opened_now = await self._tickets(
                conn,
                [msgs[fresh[k][0]] for k in ticketed],
                [fresh[k][2] for k in ticketed],
                [requests[k] for k in ticketed],
                now,
                new_customers={customer.id for customer, created in resolved if created},
            )
            for k, result in zip(ticketed, opened_now, strict=True):
                threads[k] = result
            # Rules with `notify` tell a team's channel; the sweep batches these rows.
            opened = [
                TicketEvent(t[0].id, requests[k].route.rule, "opened")
                for k, t in enumerate(threads)
                if t is not None and t[1]
            ]
            await record_events(self.store, conn, self.notify, opened, now)
            bot_replies = await self._bot_effects(
                conn,
                [msgs[i] for i, _, _ in fresh],
                [m for _, _, m in fresh],
                found,
                turns,
                threads,
                now,
                normalize,
            )
            await self._store_attachments(
                conn, [(msgs[i], message_id) for i, _, message_id in fresh], now
            )
            await self._record_bounces(conn, [msgs[i] for i, _, _ in fresh], now)
            wanted = [
                (msgs[i], customer, result[0])
                for (i, _, _), customer, result in zip(fresh, found, threads, strict=True)
                if result is not None and result[1] and self._should_acknowledge(msgs[i])
            ]
            # Our own mail coming back (a forward loop that dropped Auto-Submitted): no answer.
            ours = await our_message_ids(conn, [m.external_id for m, _, _ in wanted])
            wanted = [w for w in wanted if w[0].external_id not in ours]
            allowed = await self._within_breaker(conn, wanted, now, normalize)
            lookups: dict[tuple[str, str], Any] = {}
            acks = [
                self._acknowledgement(msg, customer, ticket, now, normalize, lookups)
                for msg, customer, ticket in allowed
            ]
            await enqueue_outbound_many(self.store, conn, [*acks, *bot_replies], now=now)
            for (i, _, message_id), customer, result in zip(fresh, found, threads, strict=True):
                ticket = result[0] if result is not None else None
                results[i] = SubmitResult(
                    message_id,
                    ticket.id if ticket else None,
                    ticket.ref if ticket else None,
                    customer.id,
                    duplicate=False,
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

    async def _bot_turns(
        self, conn: AsyncConnection, msgs: list[InboundMessage], customers_: list[Customer]
    ) -> list[BotTurn | None]:
        """What the chat bot does with each message from a chat channel (None: not chat)."""
        chat = [k for k, m in enumerate(msgs) if m.connector_id in self.chat_connectors]
        turns: list[BotTurn | None] = [None] * len(msgs)
        if not chat:
            return turns
        keys = {_ticket_key(msgs[k], customers_[k].id) for k in chat}
        open_now = {
            r.open_key
            for r in await conn.execute(
                select(tickets.c.open_key).where(tickets.c.open_key.in_(sorted(keys)))
            )
        }
        for k in chat:
            msg, customer = msgs[k], customers_[k]
            key = _ticket_key(msg, customer.id)
            turn = decide(_command(msg), msg.text, customer.locale, key in open_now, self.faq)
            turns[k] = turn
            if turn.action == "ticket":
                open_now.add(key)  # a later message of this batch finds it open
            elif turn.action == "close":
                open_now.discard(key)
        return turns

    async def _bot_effects(
        self,
        conn: AsyncConnection,
        msgs: list[InboundMessage],
        message_ids: list[int],
        customers_: list[Customer],
        turns: list[BotTurn | None],
        threads: list[tuple[Ticket, bool] | None],
        now: datetime,
        normalize: Callable[[Address], Address | None],
    ) -> list[Outbound]:
        """Store the bot's side of each chat turn; returns what the bot says. A ticket an
        /end closes joins `threads` (as not opened), so the caller reports it."""
        replies: list[Outbound] = []
        for k, turn in enumerate(turns):
            if turn is None:
                continue
            msg, customer = msgs[k], customers_[k]
            ticket: Ticket | None = threads[k][0] if threads[k] is not None else None
            if turn.action == "close":
                ticket = await close_open_ticket(conn, _ticket_key(msg, customer.id), now)
                if ticket is not None:
                    threads[k] = (ticket, False)
            elif turn.action == "opt_out":
                await record_consent(
                    self.store, conn, customer.id, msg.sender.kind, OPT_OUT, "chat command /stop"
                )
            if ticket is not None:
                # Everything the bot said before the hand-over joins the ticket's history.
                await conn.execute(
                    update(messages)
                    .where(_before_handover(msg, customer.id))
                    .values(ticket_id=ticket.id)
                )
            await conn.execute(
                update(messages)
                .where(messages.c.id == message_ids[k])
                .values(customer_id=customer.id, ticket_id=ticket.id if ticket else None)
            )
            reply = self._bot_reply(msg, customer, ticket, turn, normalize)
            if reply is not None:
                replies.append(reply)
        return replies

    def _bot_reply(
        self,
        msg: InboundMessage,
        customer: Customer,
        ticket: Ticket | None,
        turn: BotTurn,
        normalize: Callable[[Address], Address | None],
    ) -> Outbound | None:
        route = self.reply_routes.get(msg.connector_id)
        if route is None or msg.reply_to is None:
            return None
        person = {"name": customer.display_name, "locale": customer.locale}
        if turn.faq_match is not None and self.faq is not None:
            text, locale, kind = (
                self.faq.answer(turn.faq_match, customer.locale, {"customer": person}),
                customer.locale,
                "bot:faq",
            )
        elif turn.template is not None:
            team = ticket.team_id if ticket else ""
            rendered = self.replies.render(
                turn.template,
                customer.locale,
                {
                    "customer": person,
                    "ticket": {"ref": ticket.ref if ticket else ""},
                    "team": {"name": self.team_names.get(team, "")},
                    "timezone": customer.timezone,
                },
            )
            text, locale, kind = rendered.text.strip(), rendered.locale, f"bot:{turn.template}"
        else:
            return None
        return Outbound(
            connector_id=route.connector_id,
            ticket_id=ticket.id if ticket else None,
            customer_id=customer.id,
            to=normalize(msg.reply_to) or msg.reply_to,
            kind=kind,
            subject=None,
            text=text,
            html=None,
            auto_submitted=True,
            language=locale,
            conversation=_conversation(msg),
        )

    async def _tickets(
        self,
        conn: AsyncConnection,
        msgs: list[InboundMessage],
        message_ids: list[int],
        requests: list[TicketRequest],
        now: datetime,
        new_customers: set[int],
    ) -> list[tuple[Ticket, bool]]:
        """Each message's ticket, and whether it was opened for it.

        Chat and forms thread onto the customer's open ticket on the channel. A message
        with threading hints (email) goes to the ticket its hints name, if it is the
        sender's own; otherwise, and for every other email, a new ticket: a new subject
        is a new topic. Hinted messages go last and one by one, so a reply finds the
        ticket its original got earlier in the same batch.
        """
        out: list[tuple[Ticket, bool] | None] = [None] * len(msgs)
        conversation = [
            k
            for k, m in enumerate(msgs)
            if not _has_hints(m) and m.connector_id not in self.explicit_threading
        ]
        if conversation:
            found = await find_or_open_tickets(
                self.store,
                conn,
                [requests[k] for k in conversation],
                now,
                new_customers=new_customers,
            )
            for k, result in zip(conversation, found, strict=True):
                out[k] = result
        await self._link(
            conn, [(message_ids[k], requests[k].customer_id, out[k]) for k in conversation]
        )
        # New topics by mail (no hint, or none that names a ticket: a reply to mail the
        # hub never saw): a ticket each, opened in one statement.
        rest = [k for k, m in enumerate(msgs) if out[k] is None and not m.bounced_message_ids
                and m.connector_id in self.explicit_threading]  # fmt: skip
        fresh = await new_topics(
            conn,
            [ThreadHints(m.in_reply_to, m.references, m.subject, m.thread_marker, m.channel)
             for m in (msgs[k] for k in rest)],
            {m.external_id for m in msgs},
        )  # fmt: skip
        topics = [k for k, new in zip(rest, fresh, strict=True) if new]
        for k, opened in zip(
            topics, await open_tickets(self.store, conn, [requests[k] for k in topics], now),
            strict=True,
        ):  # fmt: skip
            out[k] = (opened, True)
        await self._link(conn, [(message_ids[k], requests[k].customer_id, out[k]) for k in topics])
        for k, msg in enumerate(msgs):
            if out[k] is not None:
                continue
            result = await self._hinted_ticket(conn, msg, requests[k], now)
            out[k] = result
            await self._link(conn, [(message_ids[k], requests[k].customer_id, result)])
        return [r for r in out if r is not None]

    async def _hinted_ticket(
        self, conn: AsyncConnection, msg: InboundMessage, req: TicketRequest, now: datetime
    ) -> tuple[Ticket, bool]:
        if msg.bounced_message_ids:
            # A bounce belongs with the ticket of the mail that bounced, whoever sent it.
            ticket_id = await _ticket_of_our_messages(conn, msg.bounced_message_ids)
            if ticket_id is not None:
                return await touch_ticket(conn, ticket_id, now), False
        if _has_hints(msg):
            hints = ThreadHints(
                msg.in_reply_to, msg.references, msg.subject, msg.thread_marker, msg.channel
            )
            match = await match_thread(conn, hints, req.customer_id, self.secret())
            if match is not None and match.status != "closed":
                return await touch_ticket(conn, match.ticket_id, now), False
        if msg.connector_id not in self.explicit_threading:
            found = await find_or_open_tickets(self.store, conn, [req], now)
            return found[0]
        return await open_ticket(self.store, conn, req, now), True

    @staticmethod
    async def _link(
        conn: AsyncConnection, links: list[tuple[int, int, tuple[Ticket, bool] | None]]
    ) -> None:
        rows = [
            {"message_id": mid, "ticket_id": result[0].id, "customer_id": cid}
            for mid, cid, result in links
            if result is not None
        ]
        if rows:
            await conn.execute(_LINK, rows)

    async def _store_attachments(
        self, conn: AsyncConnection, stored: list[tuple[InboundMessage, int]], now: datetime
    ) -> None:
        rows = []
        for msg, message_id in stored:
            for a in msg.attachments:
                rows.append(
                    {
                        "message_id": message_id,
                        "filename": a.filename[:300],
                        "content_type": a.content_type[:200],
                        "size": len(a.content),
                        "sha256": hashlib.sha256(a.content).hexdigest(),
                        "content": a.content,
                        "dropped_reason": None,
                        "created_at": now,
                    }
                )
            for d in msg.dropped_attachments:
                # Recorded without content, so the ticket says what did not arrive.
                rows.append(
                    {
                        "message_id": message_id,
                        "filename": d.filename[:300],
                        "content_type": d.content_type[:200],
                        "size": d.size,
                        "sha256": "",
                        "content": None,
                        "dropped_reason": d.reason[:200],
                        "created_at": now,
                    }
                )
        if rows:
            await conn.execute(attachments.insert(), rows)

    async def _record_bounces(
        self, conn: AsyncConnection, msgs: list[InboundMessage], now: datetime
    ) -> None:
        keys = sorted({k for m in msgs for k in our_keys(m.bounced_message_ids)})
        if keys:
            await conn.execute(
                update(outbox)
                .where(outbox.c.idempotency_key.in_(keys), outbox.c.status == "sent")
                .values(status="bounced", last_error="the recipient's server returned it")
            )

    async def _within_breaker(
        self,
        conn: AsyncConnection,
        wanted: list[tuple[InboundMessage, Customer, Ticket]],
        now: datetime,
        normalize: Callable[[Address], Address | None],
    ) -> list[tuple[InboundMessage, Customer, Ticket]]:
        """Drops acknowledgements past the per-recipient limit: two auto-responders
        answering each other stop after a few rounds instead of mailing forever."""
        limit = self.config.replies.max_auto_replies_per_recipient
        if not wanted:
            return []
        recipients = [
            (normalize(m.reply_to) or m.reply_to).value for m, _, _ in wanted if m.reply_to
        ]
        since = now - timedelta(minutes=self.config.replies.auto_reply_window_minutes)
        counts = {
            r: n
            for r, n in await conn.execute(
                _RECENT_ACKS, {"recipients": sorted(set(recipients)), "since": since}
            )
        }
        allowed = []
        for item, recipient in zip(wanted, recipients, strict=True):
            if counts.get(recipient, 0) >= limit:
                self.metrics.rejected.labels(
                    channel=item[0].channel, reason="auto-reply-limit"
                ).inc()
                log.warning("auto-reply limit reached; not acknowledging ticket=%s", item[2].ref)
                continue
            counts[recipient] = counts.get(recipient, 0) + 1
            allowed.append(item)
        return allowed

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
                    r.id,
                    r.ticket_id,
                    ticket_ref(r.ticket_id) if r.ticket_id is not None else None,
                    r.customer_id,
                    True,
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
            # In a chat the bot's hand-over message is the acknowledgement.
            and msg.connector_id not in self.chat_connectors
            and not msg.auto_submitted
            and msg.reply_to is not None
            and msg.connector_id in self.reply_routes
        )

    def _acknowledgement(
        self,
        msg: InboundMessage,
        customer: Customer,
        ticket: Ticket,
        now: datetime,
        normalize: Callable[[Address], Address | None] | None = None,
        lookups: dict[tuple[str, str], Any] | None = None,
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
            lookups,
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


# Statements every batch runs, built once.
def _insert_inbound(store: Store) -> Any:
    return (
        store.insert(messages)
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        .returning(messages.c.id, messages.c.channel, messages.c.external_id)
    )


_LINK = (
    update(messages)
    .where(messages.c.id == bindparam("message_id"))
    .values(ticket_id=bindparam("ticket_id"), customer_id=bindparam("customer_id"))
)
_RECENT_ACKS = (
    select(outbox.c.recipient, func.count())
    .where(
        outbox.c.recipient.in_(bindparam("recipients", expanding=True)),
        outbox.c.kind == "acknowledgement",
        outbox.c.created_at >= bindparam("since"),
    )
    .group_by(outbox.c.recipient)
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
        "conversation": _conversation(msg),
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


def _conversation(msg: InboundMessage) -> str | None:
    return conversation_of(msg.conversation) if msg.conversation is not None else None


def _ticket_key(msg: InboundMessage, customer_id: int) -> str:
    return ticket_key(customer_id, msg.channel, msg.connector_id, _conversation(msg))


def _before_handover(msg: InboundMessage, customer_id: int) -> ColumnElement[bool]:
    """The chat's messages no ticket holds yet: the customer's own with the bot, or in a
    shared conversation everyone's there (and neither holds the other's)."""
    unticketed = and_(messages.c.connector_id == msg.connector_id, messages.c.ticket_id.is_(None))
    conversation = _conversation(msg)
    if conversation is None:
        return and_(
            unticketed,
            messages.c.customer_id == customer_id,
            messages.c.conversation.is_(None),
        )
    return and_(unticketed, messages.c.conversation == conversation)


def _command(msg: InboundMessage) -> str | None:
    command = msg.meta.get("command") if isinstance(msg.meta, dict) else None
    return command if isinstance(command, str) else None


def _has_hints(msg: InboundMessage) -> bool:
    return bool(
        msg.in_reply_to
        or msg.references
        or msg.thread_marker
        or msg.bounced_message_ids
        or subject_ticket_ids(msg.subject)
    )


async def _ticket_of_our_messages(conn: AsyncConnection, message_ids: Sequence[str]) -> int | None:
    keys = our_keys(message_ids)
    if not keys:
        return None
    return (
        await conn.execute(
            select(func.max(outbox.c.ticket_id)).where(outbox.c.idempotency_key.in_(keys))
        )
    ).scalar()


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
