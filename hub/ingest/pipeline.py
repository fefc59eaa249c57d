"""Ingest: each message in one transaction (hub.ingest.batch), committed in groups so a
burst costs one disk flush per batch; a group that fails is retried one message at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, OperationalError

from hub.channels.directory import ReplyRoute
from hub.connector import IngestUnavailable
from hub.customers.resolve import IdentityRace
from hub.faq.bot import FaqBot
from hub.ingest.arrival import InvalidMessage, command
from hub.ingest.batch import ingest_batch
from hub.ingest.setup import IngestSetup
from hub.messages import InboundMessage, SubmitResult
from hub.notify.events import NotifyRules
from hub.store.faults import fault_reason
from hub.surveys.answers import AnswerRules, answer_by_button
from hub.surveys.tokens import is_survey_choice
from hub.tickets.records import TicketRace, ticket_ref

log = logging.getLogger("hub.ingest.pipeline")

# A message that keeps losing races to other processes is refused (the sender retries).
RACE_RETRIES = 5


@dataclass
class Pending:
    """A submitted message, and its sender waiting for the commit."""

    msg: InboundMessage
    future: asyncio.Future[SubmitResult]


class Pipeline:
    def __init__(self, setup: IngestSetup) -> None:
        self.setup = setup
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._max_batch = setup.config.ingest.max_batch

    @property
    def notify(self) -> NotifyRules:
        return self.setup.notify

    @property
    def reply_routes(self) -> dict[str, ReplyRoute]:
        return self.setup.reply_routes

    @property
    def faq(self) -> FaqBot | None:
        return self.setup.faq

    @faq.setter
    def faq(self, faq: FaqBot | None) -> None:
        self.setup.faq = faq

    @property
    def queued(self) -> int:
        """Messages submitted and not yet taken by the writer."""
        return self._queue.qsize()

    async def submit(self, msg: InboundMessage) -> SubmitResult:
        """Store the message durably; returns only after its transaction committed."""
        if is_survey_choice(msg.choice):
            return await self._survey_answer(msg)
        future: asyncio.Future[SubmitResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(Pending(msg, future))
        return await future

    async def _survey_answer(self, msg: InboundMessage) -> SubmitResult:
        """A rating button pressed: recorded on its survey, not a message from the customer,
        so it neither reopens the solved ticket nor opens a new one."""
        assert msg.choice is not None
        try:
            survey = await answer_by_button(
                self.setup.store,
                self.setup.secret,
                msg.choice,
                now=self.setup.clock(),
                rules=AnswerRules(
                    self.setup.config.surveys.change_window_days, self.setup.measure.zone
                ),
            )
        except (OperationalError, DBAPIError, OSError) as exc:
            raise self._storage_failed(exc) from None
        if survey is None:
            # Forged, or pressed after the window: nothing stored, nothing to retry.
            return SubmitResult(0, None, None, 0, duplicate=True)
        ref = ticket_ref(survey.ticket_id)
        return SubmitResult(0, survey.ticket_id, ref, survey.customer_id, duplicate=False)

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

    async def _commit_group(self, batch: list[Pending]) -> None:
        live = [p for p in batch if not p.future.done()]
        if not live:
            return
        try:
            results = await self._transaction(live)
        except (OperationalError, DBAPIError, OSError) as exc:
            if len(live) == 1 or not _retryable_alone(exc):
                self._fail(live, self._storage_failed(exc))
                return
            results = None
        except Exception:
            results = None
        if results is None:
            # One bad message (or a race with another process) must not sink the others:
            # retry each on its own, one statement at a time.
            for p in live:
                await self.commit_alone(p)
            return
        self._succeed(live, results)

    async def commit_alone(self, p: Pending) -> None:
        """Commits one message in a transaction of its own, retrying lost races; its
        sender gets the result or the error."""
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
                self._fail([p], self._storage_failed(exc))
            except Exception as exc:
                log.exception("ingest failed channel=%s", p.msg.channel)
                self.setup.metrics.errors.labels(where="ingest").inc()
                self._fail([p], exc)
            else:
                self._succeed([p], results)
            return

    async def _transaction(self, batch: list[Pending]) -> list[SubmitResult | Exception]:
        now = self.setup.clock()
        results: list[SubmitResult | Exception] = []
        async with self.setup.store.write() as conn:
            for part in self._split_after_end([p.msg for p in batch]):
                results += await ingest_batch(self.setup, conn, part, now)
        return results

    def _split_after_end(self, msgs: list[InboundMessage]) -> list[list[InboundMessage]]:
        """The group cut after each chat /end: a group finds its open tickets before its
        /end closes one, so words after an /end, in the same group, would thread onto the
        ticket being closed."""
        parts: list[list[InboundMessage]] = [[]]
        for msg in msgs:
            parts[-1].append(msg)
            if msg.connector_id in self.setup.chat_connectors and command(msg) == "end":
                parts.append([])
        return [p for p in parts if p]

    def _succeed(self, batch: list[Pending], results: Sequence[SubmitResult | Exception]) -> None:
        queued = False
        metrics = self.setup.metrics
        for p, r in zip(batch, results, strict=True):
            if isinstance(r, Exception):
                if not p.future.done():
                    p.future.set_exception(r)
                continue
            if r.duplicate:
                metrics.duplicates.labels(channel=p.msg.channel).inc()
            else:
                metrics.messages_in.labels(channel=p.msg.channel).inc()
                queued = True
            if not p.future.done():
                p.future.set_result(r)
        if queued:
            self.setup.on_outbox()

    def _storage_failed(self, exc: BaseException) -> IngestUnavailable:
        """Logged with its cause (read-only, disk full, locked, ...) and counted; the
        sender is told to retry."""
        reason = fault_reason(exc)
        log.error("ingest failed: storage error=%s reason=%s", exc.__class__.__name__, reason)
        self.setup.metrics.errors.labels(where="storage").inc()
        return IngestUnavailable(f"storage unavailable: {reason}")

    @staticmethod
    def _fail(batch: list[Pending], exc: Exception) -> None:
        for p in batch:
            if not p.future.done():
                p.future.set_exception(exc)


def _retryable_alone(exc: Exception) -> bool:
    """An integrity or data error may be one message's fault; a lost connection is not."""
    return "IntegrityError" in type(exc).__name__ or "DataError" in type(exc).__name__
