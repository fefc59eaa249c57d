"""The fuzz suite's rig: a hub with every kind of route, a raw HTTP client that sends any
bytes it is given, a watch on the hub's log for unhandled exceptions, and the findings.
Its inputs are in tests/fuzz_inputs.py."""

from __future__ import annotations

import contextlib
import http.client
import logging
import re
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp.http_exceptions import HttpProcessingError

from hub.app import Hub
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.telegram_api import FakeBotApi
from tests.inbox_support import inbox_config
from tests.meta_harness import ACCOUNTS, connector_config
from tests.meta_harness import TOKEN as GRAPH_TOKEN
from tests.support import SmtpSink, hub_running, make_config
from tests.telegram_harness import BOT, eventually, telegram_entry
from tests.webchat_support import ORIGIN


@contextlib.asynccontextmanager
async def fuzz_hub(tmp_path: Path, smtp: SmtpSink) -> AsyncIterator[Hub]:
    """Agents, the web form, web chat, a Telegram webhook and Meta's three products."""
    graph = await FakeGraphApi(GRAPH_TOKEN, tuple(ACCOUNTS.values())).start()
    bot = await FakeBotApi(BOT.token, BOT.username).start()
    data = inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port)
    # Hostile log-ins must not lock the fuzzing out of the log-in's success path.
    data["agents"]["lockout"] = {"max_failures_per_account": 1000, "max_failures_per_ip": 100000}
    data["connectors"] += [
        {
            "id": "chat",
            "type": "webchat",
            "allowed_origins": [ORIGIN],
            # Every frame reaches the parsing, not the rate limit.
            "visitor_messages_per_minute": 1e6,
            "visitor_burst": 100_000,
            "ip_messages_per_minute": 1e6,
            "ip_burst": 100_000,
            "ip_connections_per_minute": 1e6,
            "ip_connection_burst": 100_000,
        },
        telegram_entry(BOT, bot, "webhook"),
        *(connector_config(p, graph) for p in ("whatsapp", "messenger", "instagram")),
    ]
    try:
        async with hub_running(make_config(data)) as hub:
            await eventually(
                lambda: all(s.ready for s in hub.supervisors.values()), what="connectors running"
            )
            yield hub
    finally:
        await bot.stop()
        await graph.stop()


@dataclass(frozen=True)
class Case:
    method: str
    target: str  # the path with its query, as sent
    headers: dict[str, bytes] = field(default_factory=dict)
    body: bytes = b""

    def short(self) -> str:
        return f"{self.method} {self.target[:120]!r} {sorted(self.headers)} {self.body[:120]!r}"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: the connection was dropped without an answer
    body: bytes


class RawClient:
    """http.client on one keep-alive connection, sending headers and bodies as raw bytes;
    it reconnects when the server closed the connection after an answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._conn: http.client.HTTPConnection | None = None

    def send(self, case: Case) -> Answer:
        reused = self._conn is not None
        try:
            return self._send(case)
        except (http.client.RemoteDisconnected, ConnectionError, TimeoutError):
            self.close()
            if not reused:
                return Answer(None, b"")
        # The server had closed the idle keep-alive connection: once more on a new one.
        try:
            return self._send(case)
        except (http.client.RemoteDisconnected, ConnectionError, TimeoutError):
            self.close()
            return Answer(None, b"")

    def _send(self, case: Case) -> Answer:
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        conn = self._conn
        conn.putrequest(case.method, case.target, skip_accept_encoding=True)
        for name, value in case.headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(case.body)))
        conn.endheaders(case.body)
        resp = conn.getresponse()
        body = resp.read()
        if resp.will_close:
            self.close()
        return Answer(resp.status, body)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class ErrorLog(logging.Handler):
    """Keeps every record at ERROR or above that carries a traceback, or is aiohttp's
    "Error handling request": each is an exception nothing handled."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if record.name == "aiohttp.server" and isinstance(exc, HttpProcessingError):
            # aiohttp's parser refusing a malformed request (a control byte in a header): it
            # answers 400 itself, before any of the hub's code runs, yet logs it at ERROR.
            return
        if exc is not None or "Error handling request" in record.getMessage():
            self.records.append(record)

    def take(self) -> list[str]:
        """What was logged since the last take (the hub logs from another thread)."""
        taken = self.records[:]
        del self.records[: len(taken)]
        return [_describe(r) for r in taken]


def _describe(record: logging.LogRecord) -> str:
    """The logger, the exception and the last line of the hub's own code it passed through."""
    if not record.exc_info or record.exc_info[1] is None:
        return f"{record.name}: {record.getMessage()[:200]}"
    frames = traceback.extract_tb(record.exc_info[1].__traceback__)
    ours = [f for f in frames if "/hub/" in f.filename or "/connectors/" in f.filename]
    where = f" at {ours[-1].filename.rsplit('/', 2)[-2:]}:{ours[-1].lineno}" if ours else ""
    exc = record.exc_info[1]
    return f"{record.name}: {type(exc).__name__}{where} | {exc!r}"[:300]


@contextlib.contextmanager
def watching_errors() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@dataclass
class Findings:
    """What the fuzzing found, kept rather than raised so one run reports every fault."""

    errors: ErrorLog
    found: list[tuple[str, str]] = field(default_factory=list)  # (the fault, one case of it)
    cases: int = 0
    statuses: dict[str, set[int | None]] = field(default_factory=dict)
    per_route: Counter[str] = field(default_factory=Counter)

    def check(self, route: str, case: Case, answer: Answer) -> None:
        """A 5xx, a dropped connection or a logged exception for this case is a finding."""
        self.cases += 1
        self.per_route[route] += 1
        self.statuses.setdefault(route, set()).add(answer.status)
        logged = self.errors.take()
        if answer.status is None or answer.status >= 500 or logged:
            where = [d.split(" | ")[0] for d in logged]
            self.add(f"{route}: {answer.status} {where}", f"{logged} for {case.short()}")

    def add(self, fault: str, detail: str) -> None:
        self.found.append((fault, detail))

    def report(self) -> str:
        """Each distinct fault once (route, status, where raised), how often, and one case."""
        seen: dict[str, tuple[int, str]] = {}
        for fault, detail in self.found:
            count, sample = seen.get(fault, (0, detail))
            seen[fault] = (count + 1, sample)
        lines = [f"{n}x {fault}\n    e.g. {sample[:400]}" for fault, (n, sample) in seen.items()]
        return f"{len(self.found)} of {self.cases} cases failed:\n" + "\n".join(lines)


def fill(template: str, segments: list[str]) -> str:
    """The template with each {param} replaced by the next segment."""
    it = iter(segments)
    return re.sub(r"\{[^}]+\}", lambda _: next(it), template)
