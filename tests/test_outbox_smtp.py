"""The outbox against a real SMTP peer (aiosmtpd on loopback) and the real store.

Retries with backoff while the relay is down, dead-lettering and the `hub outbox` CLI,
the same Message-ID on every retry, permanent refusals, the headers of what we send,
the per-connector rate limit, and several workers sharing one PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import select, text

from hub.channels.directory import ChannelDirectory
from hub.cli.main import main as cli_main
from hub.config.loader import OutboxConfig
from hub.connector import Connector, HubContext, PermanentSendError
from hub.core.metrics import Metrics
from hub.core.periodic import backoff_delay
from hub.core.ratelimit import TokenBucket
from hub.messages import Address, OutboundMessage
from hub.outbox.enqueue import enqueue_outbound
from hub.outbox.entries import retry_entry
from hub.outbox.worker import OutboxWorker
from hub.store import Store, utcnow
from hub.store.schema import outbox
from tests.support import (
    REGISTRY,
    ROOT,
    SmtpSink,
    base_config,
    free_port,
    hub_running,
    hub_url,
    make_config,
)

FORM = "/channels/contact/"


# --- helpers -------------------------------------------------------------------------


async def until(
    check: Callable[[], Awaitable[Any]], what: str, timeout: float = 20.0, every: float = 0.02
) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


async def outbox_rows(store: Store) -> list[Any]:
    async with store.read() as conn:
        return list((await conn.execute(select(outbox).order_by(outbox.c.id))).all())


async def one_row(store: Store) -> Any:
    rows = await outbox_rows(store)
    assert len(rows) == 1, rows
    return rows[0]


async def post_form(http: aiohttp.ClientSession, url: str, **fields: str) -> dict[str, Any]:
    body = {"name": "Ann Smith", "message": "Where is my parcel?", **fields}
    async with http.post(url, json=body) as resp:
        assert resp.status == 201, await resp.text()
        return dict(await resp.json())


def ids_of(sink: SmtpSink) -> Counter[str]:
    return Counter(str(m["Message-ID"]) for m in sink.messages)


@contextlib.contextmanager
def sink_on(sink: SmtpSink, port: int) -> Iterator[SmtpSink]:
    sink.start(port)
    try:
        yield sink
    finally:
        sink.stop()


@dataclass
class RefusingDataSink(SmtpSink):
    """Answers the first `refusals` DATA commands with `code`, then accepts."""

    refusals: int = 1
    code: str = "451 4.3.0 Try again later"
    refused_ids: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if len(self.refused_ids) < self.refusals:
            mail = message_from_bytes(envelope.content, policy=policy.default)
            self.refused_ids.append(str(mail["Message-ID"]))
            return self.code
        return await super().handle_DATA(server, session, envelope)


@dataclass
class RefusingRcptSink(SmtpSink):
    """Knows no one: every RCPT TO gets a permanent 550."""

    rcpts: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.rcpts.append(address)
        return "550 5.1.1 No such user here"


@dataclass
class TimedSink(SmtpSink):
    """Keeps the monotonic time each message arrived (optionally after a slow DATA)."""

    arrivals: list[float] = field(default_factory=list)
    data_delay: float = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        self.arrivals.append(time.monotonic())
        return await super().handle_DATA(server, session, envelope)


def outbox_settings(**overrides: Any) -> dict[str, Any]:
    return {
        "max_attempts": 4,
        "base_delay_seconds": 0.05,
        "max_delay_seconds": 0.2,
        "lease_seconds": 5,
        "poll_seconds": 0.05,
        **overrides,
    }


# --- retries, dead letters, the CLI ----------------------------------------------------


async def test_relay_down_retries_then_delivers_once_when_it_comes_up(storage_url: str) -> None:
    port = free_port()  # nothing listens here yet
    config = make_config(base_config(storage_url, port, outbox=outbox_settings(max_attempts=100)))
    sink = SmtpSink()
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        await post_form(http, hub_url(hub, FORM), email="ann@example.com")

        async def retried() -> Any:
            row = await one_row(hub.store)
            return row if row.attempts >= 2 else None

        row = await until(retried, "two failed attempts")
        assert row.status == "pending"
        assert row.last_error and "SMTPConnectError" in row.last_error
        # Backoff: the next attempt is scheduled after the message was queued.
        assert row.next_attempt_at > row.created_at
        assert sink.messages == []

        with sink_on(sink, port):

            async def sent() -> Any:
                row = await one_row(hub.store)
                return row if row.status == "sent" else None

            row = await until(sent, "the acknowledgement to be sent")
            # Nothing is pending any more, so nothing else can be sent: count now.
            counts = ids_of(sink)
    assert len(sink.messages) == 1
    assert counts == {row.remote_id: 1}
    assert row.attempts >= 3
    assert row.last_error is None
    assert row.sent_at is not None
    assert sink.envelopes[0].rcpt_tos == ["ann@example.com"]


async def run_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_dead_letter_listed_by_cli_and_retried_once_relay_is_up(
    storage_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing ever listens here until we start the sink
    data = base_config(storage_url, port, outbox=outbox_settings(max_attempts=3))
    config_file = tmp_path / "hub.yaml"
    config_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    sink = SmtpSink()
    async with hub_running(make_config(data)) as hub, aiohttp.ClientSession() as http:
        await post_form(http, hub_url(hub, FORM), email="dora@example.com")

        async def dead() -> Any:
            row = await one_row(hub.store)
            return row if row.status == "dead" else None

        row = await until(dead, "the message to be dead-lettered")
        assert row.attempts == 3
        assert "SMTPConnectError" in row.last_error

        code, out, err = await run_cli("outbox", "list", "--dead", "--config", str(config_file))
        assert code == 0, err
        line, error_line = out.strip().splitlines()
        assert line.split()[:2] == [str(row.id), "dead"]
        assert "to=dora@example.com" in line and "attempts=3" in line
        assert error_line.strip() == f"last error: {row.last_error}"

        with sink_on(sink, port):
            code, out, err = await run_cli(
                "outbox", "retry", str(row.id), "--config", str(config_file)
            )
            assert code == 0, err
            assert f"outbox entry {row.id} queued" in out

            async def sent() -> Any:
                row = await one_row(hub.store)
                return row if row.status == "sent" else None

            row = await until(sent, "the retried message to be sent")
            counts = ids_of(sink)

        # A sent message is never sent again, not even by hand (in-process: same main()).
        code = await asyncio.to_thread(
            cli_main, ["outbox", "retry", str(row.id), "--config", str(config_file)]
        )
        assert code == 1
        assert f"no dead or pending outbox entry {row.id}" in capsys.readouterr().err
    assert counts == {row.remote_id: 1}
    assert len(sink.messages) == 1


async def test_outbox_list_refuses_a_limit_below_one(
    storage_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = tmp_path / "hub.yaml"
    config_file.write_text(yaml.safe_dump(base_config(storage_url)), encoding="utf-8")
    # In-process (the subprocess runs are above): main() is what `hub` runs.
    code = await asyncio.to_thread(
        cli_main, ["outbox", "list", "--limit", "-1", "--config", str(config_file)]
    )
    assert code == 2
    assert "--limit must be at least 1" in capsys.readouterr().err


async def test_retry_after_temporary_refusal_carries_the_same_message_id(
    storage_url: str,
) -> None:
    sink = RefusingDataSink(refusals=1).start()
    try:
        config = make_config(base_config(storage_url, sink.port, outbox=outbox_settings()))
        async with hub_running(config) as hub, aiohttp.ClientSession() as http:
            await post_form(http, hub_url(hub, FORM), email="eve@example.com")

            async def sent() -> Any:
                row = await one_row(hub.store)
                return row if row.status == "sent" else None

            row = await until(sent, "the acknowledgement to be sent")
    finally:
        sink.stop()
    assert len(sink.refused_ids) == 1
    assert len(sink.messages) == 1
    delivered = str(sink.messages[0]["Message-ID"])
    assert delivered == sink.refused_ids[0] == row.remote_id
    assert row.attempts == 2


async def test_permanent_recipient_refusal_dead_letters_without_retrying(
    storage_url: str,
) -> None:
    sink = RefusingRcptSink().start()
    try:
        config = make_config(
            base_config(storage_url, sink.port, outbox=outbox_settings(max_attempts=10))
        )
        async with hub_running(config) as hub, aiohttp.ClientSession() as http:
            await post_form(http, hub_url(hub, FORM), email="nobody@example.com")

            async def dead() -> Any:
                row = await one_row(hub.store)
                return row if row.status == "dead" else None

            row = await until(dead, "the message to be dead-lettered")
    finally:
        sink.stop()
    assert row.attempts == 1
    assert sink.rcpts == ["nobody@example.com"]
    assert sink.messages == []
    assert "PermanentSendError" in row.last_error and "550" in row.last_error


async def test_permanent_refusal_of_the_message_dead_letters_without_retrying(
    storage_url: str,
) -> None:
    # 554 after DATA: the relay refuses this message's content for good.
    sink = RefusingDataSink(refusals=100, code="554 5.6.0 Message refused").start()
    try:
        config = make_config(
            base_config(storage_url, sink.port, outbox=outbox_settings(max_attempts=10))
        )
        async with hub_running(config) as hub, aiohttp.ClientSession() as http:
            await post_form(http, hub_url(hub, FORM), email="fay@example.com")

            async def dead() -> Any:
                row = await one_row(hub.store)
                return row if row.status == "dead" else None

            row = await until(dead, "the message to be dead-lettered")
    finally:
        sink.stop()
    assert row.attempts == 1
    assert len(sink.refused_ids) == 1
    assert "PermanentSendError" in row.last_error and "554" in row.last_error


async def test_an_unreadable_approved_template_dead_letters_and_the_next_is_sent(
    storage_url: str, smtp: SmtpSink
) -> None:
    # Sent as free text it would be refused by the channel; stalling would hold the rows
    # behind it: it fails for good, and the worker goes on.
    async with hub_running(make_config(base_config(storage_url, smtp.port))) as hub:
        async with hub.store.write() as conn:
            for i, payload in enumerate(({"template": {"name": "birthday"}}, None)):
                await enqueue_outbound(
                    conn,
                    connector_id="mail",
                    ticket_id=None,
                    customer_id=None,
                    to=Address("email", f"t{i}@example.com"),
                    kind="greeting",
                    subject=f"Message {i}",
                    text=f"Hello {i}",
                    html=None,
                    auto_submitted=True,
                    language="en",
                    now=utcnow(),
                )
                if payload is not None:
                    await conn.execute(
                        outbox.update().where(outbox.c.recipient == f"t{i}@example.com")
                        .values(payload=payload)
                    )  # fmt: skip

        async def settled() -> Any:
            rows = await outbox_rows(hub.store)
            return rows if {r.status for r in rows} == {"dead", "sent"} else None

        rows = await until(settled, "one dead-lettered and one sent")
    by_recipient = {r.recipient: r for r in rows}
    bad = by_recipient["t0@example.com"]
    assert (bad.status, bad.attempts) == ("dead", 1)
    assert "unreadable template" in bad.last_error
    assert by_recipient["t1@example.com"].status == "sent"
    assert [m["To"] for m in smtp.messages] == ["t1@example.com"]


async def test_outbox_survives_a_storage_error_and_carries_on(
    storage_url: str, smtp: SmtpSink
) -> None:
    config = make_config(base_config(storage_url, smtp.port, outbox=outbox_settings()))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        # The worker's next claim fails the way a lost or broken database fails it.
        async with hub.store.write() as conn:
            await conn.execute(text("ALTER TABLE outbox RENAME TO outbox_away"))

        async def failed_round() -> bool:
            value = hub.metrics.registry.get_sample_value("hub_errors_total", {"where": "outbox"})
            return bool(value)

        await until(failed_round, "a failed outbox round")
        async with hub.store.write() as conn:
            await conn.execute(text("ALTER TABLE outbox_away RENAME TO outbox"))
        # The hub is still up, and its outbox still sends.
        await post_form(http, hub_url(hub, FORM), email="ida@example.com")
        mails = await smtp.wait_for(1)
        row = await until(lambda: _sent_row(hub.store), "the acknowledgement to be sent")
    assert [str(m["Message-ID"]) for m in mails] == [row.remote_id]


async def _sent_row(store: Store) -> Any:
    row = await one_row(store)
    return row if row.status == "sent" else None


@dataclass
class LoginRequiredSink(SmtpSink):
    """A relay that wants a login we do not have: 530 to every MAIL FROM."""

    refusals: int = 0

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.refusals += 1
        return "530 5.7.0 Authentication required"


async def test_relay_demanding_a_login_disables_the_connector_and_keeps_the_message(
    storage_url: str,
) -> None:
    sink = LoginRequiredSink().start()
    try:
        config = make_config(
            base_config(storage_url, sink.port, outbox=outbox_settings(max_attempts=2))
        )
        async with hub_running(config) as hub, aiohttp.ClientSession() as http:
            await post_form(http, hub_url(hub, FORM), email="jo@example.com")

            async def disabled() -> Any:
                async with http.get(hub_url(hub, "/healthz")) as resp:
                    body = await resp.json()
                return body if body["connectors"]["mail"]["state"] == "disabled" else None

            health = await until(disabled, "the mail connector to be disabled")
            row = await one_row(hub.store)
    finally:
        sink.stop()
    assert "authentication" in health["connectors"]["mail"]["error"]
    # Not this message's fault: it waits, with its attempts intact, for the credentials.
    assert (row.status, row.attempts) == ("pending", 0)
    assert "530" in row.last_error
    assert sink.refusals == 1 and sink.messages == []


async def test_a_message_that_cannot_be_an_email_is_refused_for_good(tmp_path: Path) -> None:
    store, connector = worker_parts(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", free_port())
    try:
        with pytest.raises(PermanentSendError, match="email"):
            await connector.send(
                OutboundMessage(
                    connector_id="mail",
                    to=Address("phone", "+8801712345678"),
                    text="Hello",
                    idempotency_key="k" * 32,
                )
            )
    finally:
        await store.close()


async def test_worker_stops_when_cancelled_just_as_it_is_woken() -> None:
    # Never connected: with no connectors there is nothing to claim.
    store = Store("postgresql+asyncpg://unused@127.0.0.1:1/unused")
    worker = OutboxWorker(store, OutboxConfig(poll_seconds=3600), {}, Metrics())
    task = asyncio.create_task(worker.run())
    for _ in range(3):
        await asyncio.sleep(0)  # now idle, waiting to be woken
    # A message is queued in the very moment the hub shuts down.
    worker.wake()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=10)
    assert task in done and task.cancelled()


class SendOnly:
    """A channel client that only sends: nothing to start, stop or serve."""

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def web_app(self) -> None:
        return None


@dataclass
class StubbornConnector(SendOnly):
    """A channel client that swallows cancellation (some libraries do): the send
    completes after the hub asked the outbox to stop."""

    config: Any
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, msg: OutboundMessage) -> str:
        self.entered.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        return "sent anyway"


@dataclass
class SlowConnector(SendOnly):
    """A channel whose every send takes a while (a slow relay or API)."""

    config: Any
    sent: list[str] = field(default_factory=list)
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, msg: OutboundMessage) -> str:
        self.entered.set()
        await asyncio.sleep(0.3)
        self.sent.append(msg.to.value)
        return f"remote-{len(self.sent)}"


async def stopped_mid_send(
    url: str, messages: int, make: Callable[[Any], Any], config: OutboxConfig
) -> tuple[Any, list[Any]]:
    """`messages` queued, a worker sending them over the connector `make` builds, stopped
    once the first send has begun; the connector and the outbox rows after the stop."""
    store, real = worker_parts(url, free_port())
    try:
        await store.migrate()
        await queue_messages(url, messages)
        connector = make(real.config)
        worker = OutboxWorker(store, config, {"mail": connector}, Metrics())
        task = asyncio.create_task(worker.run())
        await asyncio.wait_for(connector.entered.wait(), timeout=30)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=10)
        assert task in done and task.cancelled()
        return connector, await outbox_rows(store)
    finally:
        await store.close()


async def test_worker_stops_even_if_a_connector_swallows_the_cancellation(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    config = OutboxConfig(poll_seconds=0.05, drain_seconds=0.2)
    _, (row,) = await stopped_mid_send(url, 1, StubbornConnector, config)
    assert row.status == "sent"  # it was sent, and recorded as such before stopping


async def test_a_stop_during_a_send_lets_it_finish_and_hands_the_batch_back(
    storage_url: str,
) -> None:
    # Cut between the remote side taking it and the mark, the next run would send it again.
    config = OutboxConfig(poll_seconds=0.05, batch_size=3)
    connector, rows = await stopped_mid_send(storage_url, 3, SlowConnector, config)
    assert connector.sent == ["w0@example.com"]
    assert [(r.status, r.remote_id) for r in rows] == [
        ("sent", "remote-1"),
        ("pending", None),
        ("pending", None),
    ]
    # The two never started are free at once for another process, not held by a lease.
    assert [(r.claimed_by, r.lease_until) for r in rows[1:]] == [(None, None)] * 2


# --- what the acknowledgement looks like ----------------------------------------------


async def test_acknowledgement_headers_and_alternative_parts(storage_url: str) -> None:
    sink = SmtpSink().start()
    try:
        data = base_config(storage_url, sink.port, outbox=outbox_settings())
        data["connectors"][1]["reply_to"] = "help@example.org"
        async with (
            hub_running(make_config(data)) as hub,
            aiohttp.ClientSession() as http,
        ):
            before = utcnow().replace(microsecond=0)
            body = await post_form(
                http, hub_url(hub, FORM), name="Gus Grey", email="Gus@Example.com"
            )
            row = await until(lambda: _sent_row(hub.store), "the acknowledgement to be sent")
    finally:
        sink.stop()
    [mail] = sink.messages
    assert mail["Message-ID"] == row.remote_id
    assert mail["Message-ID"] == f"<{row.idempotency_key}@example.org>"
    assert before <= parsedate_to_datetime(mail["Date"]) <= utcnow()
    assert mail["From"] == "Example support <support@example.org>"
    assert mail["To"] == "Gus Grey <gus@example.com>"
    assert mail["Reply-To"] == "help@example.org"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["X-Hub-Ticket"] == body["ticket"]
    assert body["ticket"] in mail["Subject"]
    assert mail.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in mail.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert "Gus Grey" in mail.get_body(("plain",)).get_content()
    assert "<" in mail.get_body(("html",)).get_content()


async def test_no_reply_to_header_unless_configured(storage_url: str, smtp: SmtpSink) -> None:
    config = make_config(base_config(storage_url, smtp.port, outbox=outbox_settings()))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        await post_form(http, hub_url(hub, FORM), email="hal@example.com")
        mails = await smtp.wait_for(1)
    assert mails[0]["Reply-To"] is None


# --- backoff and the rate limit ---------------------------------------------------------


def test_backoff_delay_stays_within_half_to_full_ceiling() -> None:
    base, cap = 5.0, 3600.0
    for seed in range(50):
        rng = random.Random(seed)
        for attempt in range(0, 40):
            ceiling = min(cap, base * 2 ** max(0, attempt - 1))
            delay = backoff_delay(attempt, base, cap, rng)
            assert ceiling / 2 <= delay <= ceiling, (attempt, delay)
    # The first retry waits about `base`; late retries never wait longer than the cap.
    assert 2.5 <= backoff_delay(1, base, cap, random.Random(1)) <= 5
    assert 1800 <= backoff_delay(10_000, base, cap, random.Random(1)) <= 3600


def test_backoff_delay_jitter_spreads_retries() -> None:
    rng = random.Random(7)
    delays = {round(backoff_delay(4, 1.0, 60.0, rng), 6) for _ in range(100)}
    assert len(delays) > 90  # not all at once


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def paced_sends(limiter: TokenBucket, clock: FakeClock, n: int) -> list[float]:
    """What the outbox does per send: wait while the bucket is empty, then take a token."""
    times = []
    for _ in range(n):
        wait = limiter.wait_time()
        if wait > 0:
            clock.now += wait
            assert limiter.wait_time() == pytest.approx(0.0, abs=1e-9)
        limiter.take()
        times.append(clock.now)
    return times


def test_rate_limiter_bursts_a_minutes_worth_then_one_per_interval() -> None:
    clock = FakeClock()
    limiter = TokenBucket(60, clock=clock)
    times = paced_sends(limiter, clock, 65)
    assert times[:60] == [1000.0] * 60
    assert times[60:] == pytest.approx([1001.0, 1002.0, 1003.0, 1004.0, 1005.0])


def test_rate_limiter_refills_but_never_beyond_the_burst() -> None:
    clock = FakeClock()
    limiter = TokenBucket(30, clock=clock)  # one every 2 s, bursts of 30
    paced_sends(limiter, clock, 30)
    clock.now += 3.0  # one and a half tokens back
    assert limiter.wait_time() == 0.0
    limiter.take()
    assert limiter.wait_time() == pytest.approx(1.0)  # half a token short, at 0.5 a second
    clock.now += 3600  # an idle hour refills the bucket, but only to a minute's worth
    start = clock.now
    times = paced_sends(limiter, clock, 32)
    assert times[:30] == [start] * 30
    assert times[30:] == pytest.approx([start + 2, start + 4])


def test_rate_limiter_never_exceeds_the_bucket_under_a_random_load() -> None:
    rng = random.Random(3)
    for per_minute in (0.5, 1, 7, 60, 600):
        clock = FakeClock()
        limiter = TokenBucket(per_minute, clock=clock)
        times: list[float] = []
        for _ in range(300):
            clock.now += rng.expovariate(per_minute / 30)  # offered at twice the rate
            times.extend(paced_sends(limiter, clock, rng.randint(1, 3)))
        assert_within_bucket(times, per_minute, slack_seconds=1e-6)


def assert_within_bucket(times: list[float], per_minute: float, slack_seconds: float) -> None:
    """In any window of length t, at most burst + rate * t sends (plus clock slack)."""
    rate, burst = per_minute / 60, max(1.0, per_minute)
    times = sorted(times)
    for i in range(len(times)):
        for j in range(i, len(times)):
            allowed = burst + rate * (times[j] - times[i] + slack_seconds)
            assert j - i + 1 <= allowed + 1e-9, (i, j, times[j] - times[i])


async def test_smtp_rate_limit_is_respected_end_to_end(tmp_path: Path) -> None:
    # The bucket lives in the worker's memory: SQLite only, PostgreSQL would add nothing.
    sink = TimedSink().start()
    try:
        url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
        data = base_config(url, sink.port, outbox=outbox_settings(batch_size=50))
        data["connectors"][1]["rate_limit_per_minute"] = 60  # bursts of 60, then 1 a second
        async with hub_running(make_config(data)) as hub, aiohttp.ClientSession() as http:
            await asyncio.gather(
                *(post_form(http, hub_url(hub, FORM), email=f"r{i}@example.com") for i in range(62))
            )

            async def all_sent() -> list[Any]:
                rows = await outbox_rows(hub.store)
                return rows if all(r.status == "sent" for r in rows) else []

            rows = await until(all_sent, "62 messages to be sent", timeout=30)
    finally:
        sink.stop()
    assert all(r.status == "sent" for r in rows) and len(rows) == 62
    assert sorted(ids_of(sink).values()) == [1] * 62
    # A token is taken just before each send; arrival lags it by one send at most.
    assert_within_bucket(sink.arrivals, 60, slack_seconds=0.5)
    assert sink.arrivals[-1] - sink.arrivals[0] >= 1.5


# --- several workers on one PostgreSQL database -----------------------------------------


def worker_parts(url: str, port: int) -> tuple[Store, Connector]:
    """A store and a real SMTP connector, made by its registered type from the config."""
    config = make_config(base_config(url, port))
    mail = ChannelDirectory.build(config.connectors, REGISTRY).channels["mail"]
    return Store(url), mail.type.create(mail.config, send_only_context("mail"))


def send_only_context(connector_id: str) -> HubContext:
    """A context for a connector that only sends: receiving anything is a test failure."""

    def unexpected(*_: Any) -> Any:
        raise AssertionError(f"{connector_id} only sends")

    return HubContext(
        connector_id=connector_id,
        submit=unexpected,
        normalize_email=unexpected,
        normalize_phone=unexpected,
        locales=("en",),
        default_locale="en",
        public_url="http://127.0.0.1",
        logger=logging.getLogger(f"connectors.{connector_id}"),
        report=unexpected,
        storage=unexpected,  # type: ignore[arg-type]
        signing_key=b"k" * 32,
        history=unexpected,
        record_events=unexpected,
        publish=unexpected,
        subscribe=unexpected,
    )


async def queue_messages(url: str, n: int) -> list[str]:
    """Queue `n` acknowledgements the way the pipeline does; returns their keys."""
    store = Store(url)
    try:
        async with store.write() as conn:
            for i in range(n):
                await enqueue_outbound(
                    conn,
                    connector_id="mail",
                    ticket_id=None,
                    customer_id=None,
                    to=Address("email", f"w{i}@example.com"),
                    kind="acknowledgement",
                    subject=f"Message {i}",
                    text=f"Hello {i}",
                    html=None,
                    auto_submitted=True,
                    language="en",
                    now=utcnow(),
                )
        async with store.read() as conn:
            return [k for (k,) in await conn.execute(select(outbox.c.idempotency_key))]
    finally:
        await store.close()


def worker_process(url: str, port: int, config: OutboxConfig, start: threading.Barrier) -> str:
    """One "process": its own event loop, connection pool, connector and worker.

    Polls like `OutboxWorker.run` until no message is left pending; returns its worker id.
    """

    async def main() -> str:
        store, connector = worker_parts(url, port)
        try:
            worker = OutboxWorker(store, config, {"mail": connector}, Metrics())
            async with store.read() as conn:
                await conn.execute(text("SELECT 1"))  # connected before the race starts
            await asyncio.to_thread(start.wait, 30)
            while True:
                if await worker.run_once():
                    continue
                async with store.read() as conn:
                    pending = (
                        await conn.execute(
                            select(outbox.c.id).where(outbox.c.status == "pending").limit(1)
                        )
                    ).first()
                if pending is None:
                    return worker.worker_id
                await asyncio.sleep(config.poll_seconds)
        finally:
            await store.close()

    return asyncio.run(main())


async def run_workers(url: str, port: int, config: OutboxConfig, n: int) -> list[str]:
    start = threading.Barrier(n)
    return list(
        await asyncio.gather(
            *(asyncio.to_thread(worker_process, url, port, config, start) for _ in range(n))
        )
    )


async def sent_rows(url: str) -> list[Any]:
    store = Store(url)
    try:
        return await outbox_rows(store)
    finally:
        await store.close()


async def test_two_workers_on_postgresql_send_each_message_exactly_once(pg_url: str) -> None:
    keys = await queue_messages(pg_url, 60)
    sink = SmtpSink().start()
    try:
        config = OutboxConfig(batch_size=5, lease_seconds=30, poll_seconds=0.05)
        workers = await run_workers(pg_url, sink.port, config, 2)
    finally:
        sink.stop()
    rows = await sent_rows(pg_url)
    assert [r.status for r in rows] == ["sent"] * 60
    assert ids_of(sink) == Counter({f"<{k}@example.org>": 1 for k in keys})
    # Both took part: each claimed rows the other had skipped (FOR UPDATE SKIP LOCKED).
    by_worker = Counter(r.claimed_by for r in rows)
    assert set(by_worker) == set(workers)
    print(f"sent per worker: {sorted(by_worker.values())}")


async def test_claim_skips_rows_another_worker_holds_locked(pg_url: str) -> None:
    keys = await queue_messages(pg_url, 6)
    sink = SmtpSink().start()
    store, connector = worker_parts(pg_url, sink.port)
    other = Store(pg_url)
    try:
        worker = OutboxWorker(store, OutboxConfig(batch_size=10), {"mail": connector}, Metrics())
        rows = await outbox_rows(store)
        locked = [r.id for r in rows[:3]]
        # Another worker is in the middle of claiming the first three rows.
        async with other.write() as conn:
            await conn.execute(select(outbox.c.id).where(outbox.c.id.in_(locked)).with_for_update())
            assert await asyncio.wait_for(worker.run_once(), timeout=30)
            first = ids_of(sink)
        assert await worker.run_once()  # the lock is gone: now they are due for this one
        assert not await worker.run_once()
        rows = await outbox_rows(store)
    finally:
        await store.close()
        await other.close()
        sink.stop()
    assert first == Counter({f"<{r.idempotency_key}@example.org>": 1 for r in rows[3:]})
    assert ids_of(sink) == Counter({f"<{k}@example.org>": 1 for k in keys})
    assert [r.status for r in rows] == ["sent"] * 6


async def test_slow_sends_past_the_lease_are_not_sent_twice(pg_url: str) -> None:
    """A batch takes longer than a lease: the other worker takes over the rest, but a
    message being sent is never claimed by a second worker."""
    keys = await queue_messages(pg_url, 12)
    sink = TimedSink(data_delay=0.25).start()
    try:
        config = OutboxConfig(batch_size=12, lease_seconds=1.5, poll_seconds=0.05)
        await run_workers(pg_url, sink.port, config, 2)
    finally:
        sink.stop()
    rows = await sent_rows(pg_url)
    assert [r.status for r in rows] == ["sent"] * 12
    assert ids_of(sink) == Counter({f"<{k}@example.org>": 1 for k in keys})


@dataclass
class HeldConnector(StubbornConnector):
    """A channel whose send takes as long as the test says: longer than a whole lease."""

    finish: asyncio.Event = field(default_factory=asyncio.Event)
    sent: list[str] = field(default_factory=list)

    async def send(self, msg: OutboundMessage) -> str:
        self.entered.set()
        await self.finish.wait()
        self.sent.append(msg.idempotency_key)
        return "sent"


async def test_a_send_longer_than_the_lease_keeps_its_row(pg_url: str) -> None:
    keys = await queue_messages(pg_url, 1)
    store_a, real = worker_parts(pg_url, free_port())
    store_b = Store(pg_url)
    slow, other = HeldConnector(real.config), HeldConnector(real.config)
    other.finish.set()  # the second process's channel sends at once
    config = OutboxConfig(lease_seconds=1.0, poll_seconds=0.05)
    a = OutboxWorker(store_a, config, {"mail": slow}, Metrics())
    b = OutboxWorker(store_b, config, {"mail": other}, Metrics())
    try:
        sending = asyncio.create_task(a.run_once())
        await asyncio.wait_for(slow.entered.wait(), timeout=30)
        claimed = await one_row(store_b)
        # Until the lease taken at the claim has run out twice over.
        await asyncio.sleep(2 * config.lease_seconds)
        assert not await b.run_once()  # still held: the send is under way
        slow.finish.set()
        assert await sending
        row = await one_row(store_b)
    finally:
        await store_a.close()
        await store_b.close()
    assert claimed.claimed_by == a.worker_id
    assert row.status == "sent"
    assert slow.sent == keys
    assert other.sent == []


async def test_operator_retry_of_a_message_being_sent_does_not_send_it_twice(
    pg_url: str,
) -> None:
    keys = await queue_messages(pg_url, 1)
    sink = TimedSink(data_delay=1.0).start()
    store_a, connector_a = worker_parts(pg_url, sink.port)
    store_b, connector_b = worker_parts(pg_url, sink.port)
    config = OutboxConfig(lease_seconds=30)
    a = OutboxWorker(store_a, config, {"mail": connector_a}, Metrics())
    b = OutboxWorker(store_b, config, {"mail": connector_b}, Metrics())
    try:
        sending = asyncio.create_task(a.run_once())

        async def claimed_by_a() -> Any:
            row = await one_row(store_b)
            return row if row.claimed_by == a.worker_id else None

        row = await until(claimed_by_a, "worker a to claim the message")
        # Meanwhile the operator runs `hub outbox retry` on it, and another process polls.
        await retry_entry(store_b, row.id)
        assert not await b.run_once()
        assert await sending
        row = await one_row(store_b)
    finally:
        await store_a.close()
        await store_b.close()
        sink.stop()
    assert row.status == "sent"
    assert ids_of(sink) == Counter({f"<{keys[0]}@example.org>": 1})
