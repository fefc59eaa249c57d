"""End-to-end ingest throughput of the web form, against a bare aiohttp handler.

Run: `make bench` (or `.venv/bin/python bench/ingest_webform.py`).

Each server under test runs in this process; the load generator is a separate process
(bench/webform_load.py), the same one for every target: an aiohttp client with 64
concurrent workers posting JSON over loopback, bounded in count and in time.

Targets, in one run (this machine's speed drifts, so only same-run ratios mean much):

- bare: a tiny aiohttp app whose handler does `await request.json()` and answers JSON;
- sqlite: the real hub (hub.app.running_hub) on a fresh SQLite file;
- postgresql: the real hub on a fresh PostgreSQL database (skipped when unreachable).

The order is bare, sqlite, bare, postgresql, bare: each hub run is compared with the
mean of the bare runs just before and after it. `--metric-events-ab ROUNDS` adds, after
them, ROUNDS rounds of the SQLite hub with and without the ingest's metric events
(hub.events.metrics, the reports' record) written, alternated (with/without, then
without/with, ...), each on a fresh database: `metric_events_ratio` is the throughput of
all the runs with them over that of all the runs without (`metric_events_cpu_ratio` the
same by CPU per message), what writing them costs the ingest in the same process (the hub
of this run, nothing else changed).

Every post is a new customer (a distinct email), so each one makes a customer, a ticket,
the rendered acknowledgement and its outbox row, committed before the 2xx. The outbound
mail connector is held not-ready (its directory cannot be created), so the outbox worker
leaves the rows alone during the run: this measures ingest, not delivery
(`--outbound mailfile` lets the worker write .eml files meanwhile instead). After each hub
run the rows are counted and must match the 2xx answers.

Each target also reports the CPU time this process spent per answered post
(`server_cpu_ms_per_msg`), and `sqlite_cpu_ratio` compares bare with the SQLite hub by it:
on a machine shared with other work the throughput ratio swings with the neighbours' load,
the CPU per message much less. PostgreSQL's own CPU (another process) is not in it.

The last line is the headline: `ratio=<sqlite hub msgs/s / bare msgs/s>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from webform_load import run_loadgen  # noqa: E402

FORM_PATH = "/channels/contact/"

# --- the servers under test (this process) ------------------------------------------------


@dataclass
class Figures:
    name: str
    result: dict[str, Any]
    # CPU seconds this process (the server, all its threads) spent during the load,
    # warm-up included: on a shared machine the rate follows the neighbours' load, the CPU
    # each message costs much less so.
    cpu_seconds: float = float("nan")

    @property
    def rate(self) -> float:
        return float(self.result["ok"]) / float(self.result["elapsed"])

    @property
    def cpu_ms_per_msg(self) -> float:
        answered = self.result["ok"] + self.result.get("warmup_ok", 0)
        return 1000 * self.cpu_seconds / answered if answered else float("nan")

    def line(self) -> str:
        r = self.result
        extra = ""
        if r["errors"] or set(r["statuses"]) - {"200", "201"}:
            extra = f" statuses={r['statuses']} errors={r['errors']}"
        return (
            f"{self.name}: ok={r['ok']} in {r['elapsed']:.2f}s msgs/s={self.rate:.0f} "
            f"p50_ms={r['p50_ms']:.1f} p99_ms={r['p99_ms']:.1f} "
            f"server_cpu_ms_per_msg={self.cpu_ms_per_msg:.3f}{extra}"
        )


async def _bare_handler(request: web.Request) -> web.Response:
    data = await request.json()
    return web.json_response({"status": "received", "fields": len(data)}, status=201)


@contextlib.asynccontextmanager
async def bare_server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post(FORM_PATH, _bare_handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}{FORM_PATH}"
    finally:
        await runner.cleanup()


def hub_config(storage_url: str, workdir: Path, outbound: str = "parked", **extra: Any) -> Any:
    from tests.support import base_config, make_config

    directory = workdir / f"sent-mail-{uuid.uuid4().hex[:8]}"
    if outbound == "parked":
        # A file where the mail directory's parent should be: the mailfile connector
        # cannot start, stays "retrying", and the outbox worker sends nothing meanwhile.
        blocker = workdir / "no-mail"
        blocker.write_text("the bench keeps outbound mail parked\n")
        directory = blocker / "sent-mail"
    return make_config(
        base_config(
            storage_url,
            connectors=[
                {
                    "id": "contact",
                    "type": "webform",
                    "reply_via": "mail",
                    "posts_per_minute": 1_000_000_000,
                    "burst": 1_000_000_000,
                },
                {
                    "id": "mail",
                    "type": "mailfile",
                    "directory": str(directory),
                    "from_address": "support@example.org",
                    "from_name": "Example support",
                },
            ],
            **extra,
        )
    )


async def count_rows(hub: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from hub.store.schema import customers, messages, outbox, tickets

    async with hub.store.read() as conn:

        async def n(query: Any) -> int:
            return int((await conn.execute(query)).scalar_one())

        return {
            "customers": await n(select(func.count()).select_from(customers)),
            "tickets": await n(select(func.count()).select_from(tickets)),
            "in": await n(
                select(func.count()).select_from(messages).where(messages.c.direction == "in")
            ),
            "outbox": await n(select(func.count()).select_from(outbox)),
            "sent": await n(
                select(func.count()).select_from(outbox).where(outbox.c.status == "sent")
            ),
        }


async def bench_hub(
    name: str, storage_url: str, workdir: Path, args: argparse.Namespace, **extra: Any
) -> Figures:
    """`extra`: more config sections (bench/webhooks.py adds a webhook endpoint)."""
    from hub.app import running_hub
    from tests.support import REGISTRY

    config = hub_config(storage_url, workdir, args.outbound, **extra)
    hub, task = await running_hub(config, REGISTRY)
    try:
        url = f"http://127.0.0.1:{hub.port}{FORM_PATH}"
        cpu = time.process_time()
        result = await run_loadgen(
            url,
            requests=args.requests,
            warmup=args.warmup,
            concurrency=args.concurrency,
            seconds=args.seconds,
        )
        cpu = time.process_time() - cpu
        counts = await count_rows(hub)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    expected = result["ok"] + result["warmup_ok"]
    print(
        f"{name}: stored customers={counts['customers']} tickets={counts['tickets']} "
        f"messages_in={counts['in']} outbox={counts['outbox']} (sent meanwhile: "
        f"{counts.pop('sent')}) (2xx answers: {expected})",
        flush=True,
    )
    if any(v < expected for v in counts.values()):
        raise SystemExit(f"{name}: fewer rows than 2xx answers: {counts} < {expected}")
    return Figures(name, result, cpu)


@contextlib.contextmanager
def metric_events_unwritten() -> Iterator[None]:
    """The ingest as it would be without its metric events: for the same-run comparison
    only (the hub always writes them)."""
    import hub.ingest.batch as batch

    written = batch.record_metrics

    async def unwritten(*_args: Any) -> None:
        return None

    batch.record_metrics = unwritten  # type: ignore[assignment]
    try:
        yield
    finally:
        batch.record_metrics = written


async def bench_main(args: argparse.Namespace) -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
        stream=sys.stderr,
    )
    # The parked mail connector's retries are expected here; keep them off the output.
    logging.getLogger("hub.channels.supervisor").setLevel(logging.ERROR)
    print(
        f"concurrency={args.concurrency} hub: requests<={args.requests} "
        f"seconds<={args.seconds}; bare: requests<={args.bare_requests} "
        f"seconds<={args.bare_seconds}; warmup={args.warmup}; outbound={args.outbound} "
        "(load generator: one aiohttp client process)",
        flush=True,
    )
    # Bare runs bracket each hub run; each hub run is compared with the mean of the two
    # around it, so a machine slowing down or speeding up mid-run skews the ratio less.
    bare = [await bench_bare("bare#1", args)]
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        workdir = Path(tmp)
        sqlite = await bench_hub(
            "sqlite", f"sqlite+aiosqlite:///{workdir / 'hub.db'}", workdir, args
        )
        print(sqlite.line(), flush=True)
        bare.append(await bench_bare("bare#2", args))
        sqlite_base = (bare[0].rate + bare[1].rate) / 2

        postgresql: Figures | None = None
        if not args.no_postgresql:
            from tests.support import pg_available, pg_database

            problem = await pg_available()
            if problem is not None:
                print(f"postgresql: skipped ({problem})", flush=True)
            else:
                async with pg_database() as pg_url:
                    postgresql = await bench_hub("postgresql", pg_url, workdir, args)
                print(postgresql.line(), flush=True)
                bare.append(await bench_bare("bare#3", args))
        # The hub with and without its metric events, alternated (ABBA): a machine whose
        # speed drifts during the run moves both sides alike.
        ab: dict[bool, list[Figures]] = {True: [], False: []}
        for i in range(args.metric_events_ab):
            for written in (True, False) if i % 2 == 0 else (False, True):
                label = "with" if written else "without"
                with contextlib.nullcontext() if written else metric_events_unwritten():
                    run = await bench_hub(
                        f"sqlite-{label}-metric-events#{i + 1}",
                        f"sqlite+aiosqlite:///{workdir / f'hub-ab-{i}-{label}.db'}",
                        workdir,
                        args,
                    )
                print(run.line(), flush=True)
                ab[written].append(run)

    print(f"sqlite_msgs_per_s={sqlite.rate:.0f} bare_msgs_per_s={sqlite_base:.0f} (bare#1, #2)")
    bare_cpu = sum(b.cpu_ms_per_msg for b in bare) / len(bare)
    # What the ratio would be with a core to itself: bare CPU per answer over the hub's.
    print(
        f"cpu_ms_per_msg: bare={bare_cpu:.3f} sqlite={sqlite.cpu_ms_per_msg:.3f}"
        + (f" postgresql={postgresql.cpu_ms_per_msg:.3f} (hub side)" if postgresql else "")
        + f" sqlite_cpu_ratio={bare_cpu / sqlite.cpu_ms_per_msg:.3f}"
    )
    if postgresql is not None:
        pg_base = (bare[1].rate + bare[2].rate) / 2
        print(
            f"postgresql_msgs_per_s={postgresql.rate:.0f} bare_msgs_per_s={pg_base:.0f} "
            "(bare#2, #3)"
        )
        print(f"postgresql_ratio={postgresql.rate / pg_base:.3f}")
    if args.metric_events_ab:

        def pooled(runs: list[Figures]) -> tuple[float, float]:
            ok = sum(float(r.result["ok"]) for r in runs)
            rate = ok / sum(float(r.result["elapsed"]) for r in runs)
            return rate, sum(r.cpu_seconds for r in runs) * 1000 / ok

        (with_rate, with_cpu), (without_rate, without_cpu) = pooled(ab[True]), pooled(ab[False])
        print(
            f"metric_events_ab: {args.metric_events_ab} rounds; msgs/s with={with_rate:.0f} "
            f"without={without_rate:.0f}; cpu_ms_per_msg with={with_cpu:.3f} "
            f"without={without_cpu:.3f} metric_events_cpu_ratio={without_cpu / with_cpu:.3f}"
        )
        print(f"metric_events_ratio={with_rate / without_rate:.3f}")
    print(f"ratio={sqlite.rate / sqlite_base:.3f}")


async def bench_bare(name: str, args: argparse.Namespace) -> Figures:
    async with bare_server() as url:
        cpu = time.process_time()
        result = await run_loadgen(
            url,
            requests=args.bare_requests,
            warmup=args.warmup,
            concurrency=args.concurrency,
            seconds=args.bare_seconds,
        )
        figures = Figures(name, result, time.process_time() - cpu)
    print(figures.line(), flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--requests", type=int, default=20_000, help="per hub run, at most")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=12.0, help="per hub run, at most")
    parser.add_argument("--bare-requests", type=int, default=40_000)
    parser.add_argument("--bare-seconds", type=float, default=6.0, help="per bare run, at most")
    parser.add_argument("--no-postgresql", action="store_true")
    parser.add_argument(
        "--metric-events-ab",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="also run the SQLite hub with and without writing metric events, alternated "
        "ROUNDS times (see the docstring)",
    )
    parser.add_argument(
        "--outbound",
        choices=("parked", "mailfile"),
        default="parked",
        help="parked: outbox rows are written, not delivered during the run (default); "
        "mailfile: the outbox worker writes .eml files meanwhile, competing with ingest",
    )
    asyncio.run(bench_main(parser.parse_args()))


if __name__ == "__main__":
    main()
