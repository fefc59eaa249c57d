"""IMAP ingest: raw imapclient fetch rate vs the hub's end-to-end rate, and IDLE push latency.

Run (as root, with dovecot-imapd installed): `.venv/bin/python bench/ingest_imap.py [-n 2000]`.

One throwaway Dovecot on loopback (tests/dovecot.py, per ../shared/recipes/dovecot.md) holds
N generated messages: plain text, replies with In-Reply-To/References, HTML alternatives,
small PDF attachments, Bengali and German text, each from its own sender.

- raw: imapclient alone fetches BODY.PEEK[] in batches of 100 (no parsing, no storage);
- hub: the real hub (SQLite) with an imap connector, started and idle (its parser process
  booted); the N messages are moved into the idle INBOX in one MOVE, and the clock runs
  from the MOVE's completion (Dovecot's own work is not the hub's) until the last one is
  committed as a ticket message (IDLE wake-up, which Dovecot delays by ~0.5 s, fetch,
  parse, dedupe, customer, ticket, routing, rendered acknowledgement, outbox row);
- push: with the hub idle, single messages are appended one at a time, and each is timed
  from the APPEND's completion to its committed row (IDLE push, p50/p99).

The acknowledgements are rendered and queued but not sent (the mail connector is held
not-ready), so this measures ingest. The last line is `ratio=<hub msgs/s / raw msgs/s>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from hub.app import Hub, running_hub  # noqa: E402
from hub.store.schema import messages  # noqa: E402
from tests.dovecot import PASSWORD, Dovecot, dovecot_missing_reason  # noqa: E402
from tests.support import REGISTRY, base_config, make_config  # noqa: E402

STAGING = "Staging"
BODIES = (
    "Hello, my order has not arrived yet. Could you please tell me where it is?",
    "I was charged twice for the same order, please refund one of the payments.",
    "আমার অর্ডার এখনো আসেনি, দয়া করে সাহায্য করুন। ধন্যবাদ।",
    "Die Schuhe sind zu klein; wie kann ich sie gegen eine größere Größe tauschen?",
)


def generate(i: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Customer {i} <customer{i}@example.com>"
    mail["To"] = "support@example.test"
    mail["Subject"] = ("Re: " if i % 4 == 1 else "") + f"Order {i} – Frage / প্রশ্ন"
    mail["Message-ID"] = f"<bench-{i}@example.com>"
    mail["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    body = BODIES[i % len(BODIES)]
    if i % 4 == 1:
        mail["In-Reply-To"] = f"<ack-{i}@example.test>"
        mail["References"] = f"<first-{i}@example.com> <ack-{i}@example.test>"
        body += "\n\nOn Monday, Support wrote:\n> We received your message.\n> The team"
    mail.set_content(body + "\n")
    if i % 3 == 0:
        mail.add_alternative(f"<html><body><p>{body}</p><p><b>Thanks</b></p></body></html>",
                             subtype="html")  # fmt: skip
    if i % 5 == 0:
        mail.add_attachment(b"%PDF-1.4\n" + bytes(range(256)) * 8, maintype="application",
                            subtype="pdf", filename=f"invoice-{i}.pdf")  # fmt: skip
    return bytes(mail).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def raw_fetch_rate(server: Dovecot, user: str, folder: str) -> tuple[float, int]:
    with server.client(user) as client:
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        started = time.perf_counter()
        fetched = 0
        for i in range(0, len(uids), 100):
            fetched += len(client.fetch(uids[i : i + 100], ["BODY.PEEK[]"]))
        elapsed = time.perf_counter() - started
        client.logout()
    return fetched / elapsed, fetched


async def committed(hub: Hub) -> int:
    async with hub.store.read() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count()).select_from(messages).where(messages.c.direction == "in")
                )
            ).scalar_one()
        )


async def wait_for_count(hub: Hub, n: int, timeout: float, poll: float = 0.005) -> float:
    deadline = time.perf_counter() + timeout
    while await committed(hub) < n:
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out: {await committed(hub)} of {n} committed")
        await asyncio.sleep(poll)
    return time.perf_counter()


def hub_config(db: Path, server: Dovecot, user: str) -> Any:
    data = base_config(f"sqlite+aiosqlite:///{db}")
    data["connectors"] = [
        # Held not-ready (its directory cannot be made): acknowledgements stay queued.
        {"id": "mail", "type": "mailfile", "directory": "/proc/hub-bench/no",
         "from_address": "support@example.test"},
        {"id": "inbox", "type": "imap", "host": "127.0.0.1", "port": server.port,
         "security": "none", "username": user, "password": PASSWORD, "reply_via": "mail",
         "after_import": "leave", "idle_renew_seconds": 600},
    ]  # fmt: skip
    return make_config(data)


async def hub_run(server: Dovecot, user: str, n: int, samples: int, tmp: Path) -> dict[str, Any]:
    hub, task = await running_hub(hub_config(tmp / "hub.db", server, user), REGISTRY)
    try:
        while hub.supervisors["inbox"].status.state != "running":  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)  # the connector has synced the empty INBOX and is in IDLE
        # Steady state: its parser process has booted (until then it parses in a thread).
        parser = hub.connectors["inbox"]._parser  # type: ignore[attr-defined]
        deadline = time.perf_counter() + 60
        while parser and parser.ready() is None and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        print(f"parser process ready: {parser is not None and parser.ready() is not None}")
        with server.client(user) as client:
            client.select_folder(STAGING)
            uids = client.search(["ALL"])
            issued = time.perf_counter()
            client.move(uids, "INBOX")
            # The clock starts when Dovecot has them in the INBOX (as the raw fetch rate
            # starts with them stored): its own MOVE time is not the hub's.
            started = time.perf_counter()
            client.logout()
        # Polled every 20 ms: each poll is a query competing with the ingest it measures.
        done = await wait_for_count(hub, n, timeout=600, poll=0.02)
        rate = n / (done - started)
        latencies = []
        for i in range(samples):
            raw = generate(n + 1 + i)
            await asyncio.to_thread(server.append, user, raw)
            appended = time.perf_counter()
            latencies.append(await wait_for_count(hub, n + 1 + i, timeout=30) - appended)
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    latencies.sort()
    return {
        "move": started - issued,
        "rate": rate,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="messages to ingest")
    parser.add_argument("--push-samples", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    problem = dovecot_missing_reason()
    if problem is not None:
        print(f"skipped: {problem}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="hub-dovecot-"))
    tmp.chmod(0o755)
    server = Dovecot(tmp).prepare()
    server.start()
    try:
        user = server.new_user()
        with server.client(user) as client:
            client.create_folder(STAGING)
            started = time.perf_counter()
            # MULTIAPPEND (RFC 3502): one command, one round trip per 100 messages.
            for i in range(0, args.n, 100):
                client.multiappend(STAGING, [generate(j) for j in range(i, min(i + 100, args.n))])
            client.logout()
        print(f"appended {args.n} messages in {time.perf_counter() - started:.1f}s")
        raw_rate, fetched = raw_fetch_rate(server, user, STAGING)
        print(f"raw imapclient fetch: {raw_rate:,.0f} messages/s ({fetched} in batches of 100)")
        result = asyncio.run(hub_run(server, user, args.n, args.push_samples, tmp))
        print(f"Dovecot's MOVE of the {args.n} into the INBOX took {result['move']:.2f}s")
        print(f"hub end-to-end ingest: {result['rate']:,.0f} messages/s to committed tickets")
        print(
            f"IDLE push latency (append -> committed), {args.push_samples} samples: "
            f"p50={result['p50'] * 1000:.0f} ms p99={result['p99'] * 1000:.0f} ms"
        )
        print(f"ratio={result['rate'] / raw_rate:.3f}")
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
