"""Inbound email over IMAP: IDLE push (or polling), incremental by UID, one reader per mailbox.

The checkpoint (UIDVALIDITY, last UID) advances only after the hub committed the messages;
a mailbox whose UIDVALIDITY changed is read again from the start and the core drops the
Message-IDs it already has. Replies go out through `reply_via` (an SMTP connector).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from connectors.email.errors import ImapAuthError, ImapUnavailable
from connectors.email.imap_session import Fetched, FolderState, ImapSession
from connectors.email.parser_process import ParserProcess
from connectors.email.prepare import prepare
from connectors.email.settings import ImapConfig
from hub.connector import (
    ConnectorAuthError,
    ConnectorNotReady,
    HubContext,
    IngestUnavailable,
    backoff_delay,
)
from hub.messages import InboundMessage, OutboundMessage

T = TypeVar("T")
# How often a blocked IDLE wakes up to notice a stop or a lost lease.
IDLE_TICK_SECONDS = 1.0


class _LeaseLost(Exception):
    pass


@dataclass(frozen=True)
class _Batch:
    uids: list[int]
    fetched: list[Fetched]
    # Each message, or why it cannot be one (quarantined).
    prepared: list[InboundMessage | str]


class ImapConnector:
    def __init__(self, config: ImapConfig, ctx: HubContext) -> None:
        self.config = config
        self.ctx = ctx
        self.log = ctx.logger
        self._executor: ThreadPoolExecutor | None = None
        self._parser: ParserProcess | None = None
        self._session: ImapSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._failures = 0
        self._has_lease = False
        self._lease_name = f"mailbox:{config.folder}"
        self._rng = random.Random()

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._failures:
            # The last session broke: wait a little longer each time before trying again.
            cap = self.config.reconnect_max_delay_seconds
            await asyncio.sleep(backoff_delay(self._failures, 0.5, cap, self._rng))
        self._stopping = False
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"imap-{self.ctx.connector_id}")
        session = self._new_session()
        try:
            await self._blocking(session.connect)
            await self._blocking(session.select, self.config.folder)
        except ImapAuthError as exc:
            await self._teardown(session)
            user = self.config.username
            raise ConnectorAuthError(f"IMAP login refused for {user}: {exc}") from exc
        except ImapUnavailable as exc:
            await self._teardown(session)
            self._failures += 1
            raise ConnectorNotReady(f"IMAP server {self.config.host} unavailable: {exc}") from exc
        # Only once connected: a server that refuses us costs no parser process per retry.
        self._parser = ParserProcess()
        self._session = session
        self._task = asyncio.create_task(self._run(), name=f"imap:{self.ctx.connector_id}")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        session = self._session
        if session is not None:
            # Unblocks a read in the IMAP thread at once: the socket is gone.
            session.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._teardown(session)
        self._session = None
        if self._has_lease:
            self._has_lease = False
            with contextlib.suppress(Exception):
                await self.ctx.storage.release_lease(self._lease_name)

    async def send(self, msg: OutboundMessage) -> str:
        raise NotImplementedError("IMAP only receives; set reply_via to an SMTP connector")

    def web_app(self) -> web.Application | None:
        return None

    # --- the reading loop ------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while not self._stopping:
                if not await self._hold_lease():
                    # Another hub process reads this mailbox; stand by and ask again.
                    await asyncio.sleep(self.config.lease_seconds / 3)
                    continue
                renewer = asyncio.create_task(self._renew_lease())
                try:
                    await self._serve()
                except _LeaseLost:
                    self.log.warning("imap lease lost folder=%s, standing by", self.config.folder)
                    await self._reconnect_later()
                finally:
                    renewer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await renewer
        except asyncio.CancelledError:
            raise
        except ImapAuthError as exc:
            self.ctx.report(ConnectorAuthError(f"IMAP login refused: {exc}"))
        except (ImapUnavailable, IngestUnavailable) as exc:
            if not self._stopping:
                self._failures += 1
                self.log.warning("imap session ended error=%s", exc.__class__.__name__)
                self.ctx.report(ConnectorNotReady(f"IMAP session ended: {exc}"))
        except Exception as exc:
            self._failures += 1
            self.log.exception("imap session failed")
            self.ctx.report(exc)

    async def _serve(self) -> None:
        """Sync, then wait for news (IDLE or polling), sync again, until stopped."""
        session = self._session
        assert session is not None
        if session.client is None:
            await self._blocking(session.connect)
        while not self._stopping:
            state = await self._blocking(session.select, self.config.folder)
            await self._sync(session, state)
            self._failures = 0
            self.ctx.report(None)
            if self._stopping:
                return
            if self.config.idle and session.can_idle:
                await self._blocking(
                    session.idle_until_news,
                    self.config.idle_renew_seconds,
                    IDLE_TICK_SECONDS,
                    lambda: self._stopping or not self._has_lease,
                )
            else:
                await self._poll_wait(session)
            if not self._has_lease:
                raise _LeaseLost()

    async def _poll_wait(self, session: ImapSession) -> None:
        deadline = time.monotonic() + self.config.poll_interval_seconds
        # Ticks, not one long sleep: a stop or a lost lease must end the wait promptly.
        while not self._stopping and self._has_lease and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(min(IDLE_TICK_SECONDS, deadline - time.monotonic()))
        await self._blocking(session.noop)

    async def _sync(self, session: ImapSession, state: FolderState) -> None:
        key = f"sync:{self.config.folder}"
        checkpoint = await self.ctx.storage.get(key) or {}
        last_uid = int(checkpoint.get("last_uid", 0))
        if checkpoint.get("uidvalidity") not in (None, state.uidvalidity):
            # The server renumbered the mailbox: read it all again; Message-IDs dedupe.
            self.log.warning(
                "imap uidvalidity changed folder=%s old=%s new=%s, re-reading the mailbox",
                self.config.folder,
                checkpoint.get("uidvalidity"),
                state.uidvalidity,
            )
            last_uid = 0
        uids = await self._blocking(session.uids_after, last_uid)
        size = self.config.batch_size
        # Fetching and parsing the next batch overlaps committing this one; a bounded queue,
        # so a slow store holds the reader back instead of filling memory.
        ready: asyncio.Queue[_Batch | BaseException | None] = asyncio.Queue(maxsize=2)
        batches = [uids[i : i + size] for i in range(0, len(uids), size)]
        reader = asyncio.create_task(self._read_ahead(session, batches, ready))
        # Two batches in the core at once: the next is queued while this one commits, so
        # the single writer never waits for us. Settled strictly in order.
        in_core: deque[tuple[_Batch, asyncio.Task[list[int]]]] = deque()

        async def settle() -> None:
            batch, task = in_core.popleft()
            done = await task
            if done:
                # Only now, after the commit: a crash before this reads them again.
                await self.ctx.storage.put(
                    key, {"uidvalidity": state.uidvalidity, "last_uid": max(done)}
                )
                await self._blocking(session.after_import, done, self.config.after_import)
            if len(done) < len(batch.uids):
                raise IngestUnavailable("the hub did not take every message; trying again")

        try:
            while (item := await ready.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                if self._stopping or not self._has_lease:
                    return
                ingest = self._ingest(item.fetched, item.prepared, state.uidvalidity)
                in_core.append((item, asyncio.create_task(ingest)))
                if len(in_core) > 1:
                    await settle()
            while in_core:
                await settle()
        finally:
            reader.cancel()
            for _, task in in_core:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await asyncio.gather(*(t for _, t in in_core), return_exceptions=True)
        if not uids and checkpoint.get("uidvalidity") != state.uidvalidity:
            await self.ctx.storage.put(key, {"uidvalidity": state.uidvalidity, "last_uid": 0})

    async def _read_ahead(
        self,
        session: ImapSession,
        batches: list[list[int]],
        ready: asyncio.Queue[_Batch | BaseException | None],
    ) -> None:
        try:
            for uids in batches:
                if self._stopping or not self._has_lease:
                    break
                fetched = await self._blocking(session.fetch, uids, self.config.max_message_bytes)
                prepared = await self._parse(fetched)
                await ready.put(_Batch(uids, fetched, prepared))
        except Exception as exc:
            await ready.put(exc)
            return
        await ready.put(None)

    async def _ingest(
        self, fetched: list[Fetched], prepared: list[InboundMessage | str], uidvalidity: int
    ) -> list[int]:
        """Submit the batch at once, so the core commits it as one group; the UIDs that
        are safe, in order, up to the first the hub could not take."""
        outcomes = await asyncio.gather(
            *(self._deliver(f, p, uidvalidity) for f, p in zip(fetched, prepared, strict=True)),
            return_exceptions=True,
        )
        done: list[int] = []
        for item, outcome in zip(fetched, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, IngestUnavailable | ImapUnavailable):
                    self.log.error("imap message failed uid=%s error=%r", item.uid, outcome)
                break
            done.append(item.uid)
        return done

    async def _deliver(
        self, item: Fetched, prepared: InboundMessage | str, uidvalidity: int
    ) -> None:
        external_id = f"{uidvalidity}:{item.uid}"
        meta: dict[str, Any] = {
            "folder": self.config.folder,
            "uid": item.uid,
            "uidvalidity": uidvalidity,
            "size": item.size,
        }
        if isinstance(prepared, str):
            self.log.warning("imap message quarantined uid=%s reason=%s", item.uid, prepared)
            await self.ctx.storage.quarantine(item.raw, prepared, external_id, meta)
            return
        try:
            await self.ctx.submit(prepared)
        except IngestUnavailable:
            raise
        except Exception as exc:
            # The core refused this one message (e.g. an unusable address): keep it aside.
            reason = f"the hub refused the message: {exc.__class__.__name__}: {exc}"
            await self.ctx.storage.quarantine(item.raw, reason, external_id, meta)

    async def _parse(self, fetched: list[Fetched]) -> list[InboundMessage | str]:
        cfg = self.config
        args = (
            fetched,
            self.ctx.connector_id,
            cfg.max_message_bytes,
            cfg.max_attachment_bytes,
            cfg.mail_rules(),
        )
        if self._parser is None:
            self._parser = ParserProcess()
        pool = self._parser.ready()
        if pool is None:
            # Still booting (or died): this batch is parsed in a thread, as before.
            return await asyncio.to_thread(prepare, *args)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, prepare, *args)
        except BrokenProcessPool:
            # The parser died (out of memory, killed): parse here this once, new one next time.
            self._parser = None
            self.log.warning("imap parser process died; parsing in a thread")
            return await asyncio.to_thread(prepare, *args)

    # --- lease -----------------------------------------------------------------------------

    async def _hold_lease(self) -> bool:
        self._has_lease = await self.ctx.storage.acquire_lease(
            self._lease_name, self.config.lease_seconds
        )
        return self._has_lease

    async def _renew_lease(self) -> None:
        while self._has_lease:
            await asyncio.sleep(self.config.lease_seconds / 3)
            try:
                self._has_lease = await self.ctx.storage.acquire_lease(
                    self._lease_name, self.config.lease_seconds
                )
            except Exception as exc:
                # Cannot prove we still hold it: stop reading rather than risk two readers.
                self.log.warning("imap lease renewal failed error=%s", exc.__class__.__name__)
                self._has_lease = False

    async def _reconnect_later(self) -> None:
        session = self._session
        if session is not None:
            await self._blocking(session.logout)
        await asyncio.sleep(self.config.lease_seconds / 3)

    # --- threads ---------------------------------------------------------------------------

    def _new_session(self) -> ImapSession:
        cfg = self.config
        return ImapSession(
            cfg.host,
            cfg.effective_port,
            cfg.security,
            cfg.username,
            cfg.password.get_secret_value(),
            cfg.timeout_seconds,
        )

    async def _blocking(self, fn: Any, *args: Any) -> Any:
        if self._executor is None:
            raise ImapUnavailable("the connector is stopped")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _teardown(self, session: ImapSession | None) -> None:
        executor, self._executor = self._executor, None
        parser, self._parser = self._parser, None
        if parser is not None:
            parser.shutdown()
        if session is not None:
            session.close()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
