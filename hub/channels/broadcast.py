"""Live notices between the hub processes sharing one database.

A web chat visitor's socket lives in one process, but any process's outbox may send the
agent's reply. On PostgreSQL a notice goes to every other hub process with NOTIFY over
one dedicated connection that also LISTENs; on SQLite (one process by design) it stays in
this process. Notices are for live delivery only: one published while the listening
connection is down (it reconnects with backoff) is not seen elsewhere, and what it
announced is still stored (the widget shows a reply from the history when it reconnects).

NOTIFY takes at most 8,000 bytes; a longer notice goes as numbered parts in one
statement, which PostgreSQL delivers together and in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger("hub.channels.broadcast")

CHANNEL = "hub_broadcast"
# Of the notice's ASCII-only JSON: escaped once more in its envelope, a part stays below
# 8,000 bytes.
PART_CHARS = 3000
MAX_NOTICE_CHARS = 1_000_000
RECONNECT_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
# asyncpg calls termination listeners only when the server drops an idle connection; one
# aborted under a failing query (a NOTIFY cut by pg_terminate_backend) is only seen closed.
HEALTH_SECONDS = 1.0
# A reply's send waits on its notice; a connection hung on a dead network must not hold it.
PUBLISH_SECONDS = 5.0
# How often an idle listening connection is asked whether it still hears the server.
PING_SECONDS = 15.0

Listener = Callable[[dict[str, Any]], None]


class Broadcast:
    """publish(topic, payload) reaches the topic's subscribers in every other hub process
    on the same database; this process acts on its own notices itself."""

    def __init__(
        self, storage_url: str, on_trouble: Callable[[str], None] = lambda _what: None
    ) -> None:
        """`on_trouble("publish" | "connection")` counts failures for the operators' metrics."""
        url = make_url(storage_url)
        self._dsn = (
            url.set(drivername="postgresql").render_as_string(hide_password=False)
            if url.get_backend_name() == "postgresql"
            else None
        )
        self._me = uuid.uuid4().hex
        self._listeners: defaultdict[str, list[Listener]] = defaultdict(list)
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self._parts: dict[str, list[str]] = {}
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._on_trouble = on_trouble
        # For /healthz: "local" (SQLite: one process, nothing to connect), "connecting",
        # "connected", "reconnecting" (live notices to other processes paused meanwhile).
        self.state = "local" if self._dsn is None else "connecting"

    def subscribe(self, topic: str, listener: Listener) -> None:
        self._listeners[topic].append(listener)

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        conn = self._conn
        if conn is None:
            return
        text = json.dumps({"t": topic, "p": payload})
        if len(text) > MAX_NOTICE_CHARS:
            log.warning("broadcast notice too large topic=%s chars=%d", topic, len(text))
            return
        key = uuid.uuid4().hex
        chunks = [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)]
        parts = [
            json.dumps({"f": self._me, "k": key, "i": i, "n": len(chunks), "d": chunk})
            for i, chunk in enumerate(chunks)
        ]
        try:
            # One statement, so one transaction with no ROLLBACK to wait on when cut off;
            # unnest yields the parts in order and NOTIFY keeps a transaction's order.
            async with asyncio.timeout(PUBLISH_SECONDS), self._lock:
                await conn.execute(
                    "SELECT pg_notify($1, part) FROM unnest($2::text[]) AS part", CHANNEL, parts
                )
        except Exception as exc:  # the listening loop reconnects; history covers the gap
            log.warning("broadcast publish failed topic=%s error=%r", topic, exc)
            self._on_trouble("publish")
            if conn is self._conn:
                self._lost.set()  # whatever went wrong, a new connection starts clean

    async def run(self) -> None:
        """Keep the listening connection (PostgreSQL only) until cancelled."""
        if self._dsn is None:
            return
        import asyncpg

        attempt = 0
        while True:
            lost = self._lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self._dsn)
            except Exception as exc:
                wait = RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)]
                attempt += 1
                log.warning("broadcast cannot connect, retrying in %.0fs: %r", wait, exc)
                self._on_trouble("connection")
                await asyncio.sleep(wait)
                continue
            attempt = 0
            try:
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                self._conn = conn
                self._connected.set()
                self.state = "connected"
                await self._watch(conn, lost)
                log.warning("broadcast connection lost; reconnecting")
                self._on_trouble("connection")
            finally:
                self.state = "reconnecting"
                self._conn = None
                self._connected.clear()
                self._parts.clear()
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)

    async def _watch(self, conn: Any, lost: asyncio.Event) -> None:
        """Until the connection is lost, closed, or silent: a network that died without a
        word keeps a socket open that hears nothing, so the server is asked now and then."""
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + PING_SECONDS
        while not conn.is_closed() and not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), HEALTH_SECONDS)
            if loop.time() >= next_ping and not lost.is_set():
                try:
                    async with asyncio.timeout(PUBLISH_SECONDS), self._lock:
                        await conn.fetchval("SELECT 1")
                except Exception as exc:
                    log.warning("broadcast connection not answering: %r", exc)
                    return
                next_ping = loop.time() + PING_SECONDS

    async def wait_connected(self) -> None:
        """Until notices from other processes are heard (at once on SQLite)."""
        if self._dsn is not None:
            await self._connected.wait()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, raw: str) -> None:
        try:
            part = json.loads(raw)
            if part["f"] == self._me:
                return  # ours: this process has acted on it
            key, i, n = str(part["k"]), int(part["i"]), int(part["n"])
            chunks = self._parts.setdefault(key, [])
            if i != len(chunks) or n > MAX_NOTICE_CHARS // PART_CHARS + 1:
                self._parts.pop(key, None)  # a part missing: drop the notice, not the hub
                return
            chunks.append(str(part["d"]))
            if len(chunks) < n:
                return
            notice = json.loads("".join(self._parts.pop(key)))
            self._dispatch(str(notice["t"]), notice["p"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("broadcast notice unreadable: %r", exc)

    def _dispatch(self, topic: str, payload: dict[str, Any]) -> None:
        for listener in self._listeners.get(topic, ()):
            try:
                listener(payload)
            except Exception:
                log.exception("broadcast listener failed topic=%s", topic)
