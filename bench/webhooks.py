"""Webhook delivery throughput, and what emitting events costs the web form's ingest.

Run: `.venv/bin/python bench/webhooks.py` (`--quick` for a short run).

1. Deliveries per second: N events of M customers recorded on SQLite, then delivered by
   the hub's dispatcher (hub.webhooks.dispatcher, its real rounds) to a loopback receiver
   in another process that checks every signature with the `standardwebhooks` library.
2. bench/ingest_webform.py's ratio (hub msgs/s over a bare aiohttp handler's) in one run,
   bare runs bracketing each hub run: without a webhook endpoint; with one subscribed to
   every event, parked (disabled: each post records three events, customer.created,
   ticket.created and message.received, in its transaction, and the dispatcher fans them
   out into delivery rows, but posts nothing), as ingest_webform parks outbound mail to
   measure ingest; and live (the dispatcher also posts every event to the receiver
   process while the load runs, in the hub's one process: three posts per message).

3. The CPU alone of recording a message's three events and fanning them out, against
   the hub's CPU per message: on a machine shared with other work the throughput ratios
   swing with the neighbours' load, CPU time much less.

The last line is the headline: `webhook_deliveries_per_s=<...>`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import ClientSession, web

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SECRET = "whsec_" + base64.b64encode(b"bench-webhook-secret-0123456789ab").decode()


# --- the receiver (its own process) --------------------------------------------------------


def receiver_main(port: int) -> None:
    from standardwebhooks.webhooks import Webhook

    hook = Webhook(SECRET)
    counts = {"ok": 0, "bad": 0}

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            hook.verify(body, dict(request.headers))
            counts["ok"] += 1
        except Exception:
            counts["bad"] += 1
        return web.Response(status=204)

    async def count(request: web.Request) -> web.Response:
        return web.json_response(counts)

    app = web.Application()
    app.router.add_post("/hook", receive)
    app.router.add_get("/count", count)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[str]:
    from tests.support import free_port

    port = free_port()
    proc = await asyncio.create_subprocess_exec(sys.executable, str(HERE), "receiver", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        async with ClientSession() as http:
            for _ in range(200):
                with contextlib.suppress(OSError):
                    async with http.get(base + "/count") as resp:
                        if resp.status == 200:
                            break
                await asyncio.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        await proc.wait()


async def received(base: str) -> dict[str, int]:
    async with ClientSession() as http, http.get(base + "/count") as resp:
        return dict(await resp.json())


def endpoint(base: str) -> dict[str, object]:
    return {"id": "bench", "url": base + "/hook", "secret": SECRET, "allow_private": True}


# --- 1. deliveries per second ------------------------------------------------------------


async def bench_deliveries(events: int, customers: int, workdir: Path) -> float:
    from hub.config.webhooks import WebhookEndpointConfig
    from hub.core.sealed import Sealer
    from hub.events.outgoing import TICKET_CREATED, OutgoingEvent, emit
    from hub.store import Store, utcnow
    from hub.webhooks.dispatcher import DispatchSettings, WebhookDispatcher

    store = Store(f"sqlite+aiosqlite:///{workdir / 'deliveries.db'}")
    await store.migrate()
    async with receiver() as base:
        dispatcher = WebhookDispatcher(
            store,
            [WebhookEndpointConfig.model_validate(endpoint(base))],
            sealer=Sealer(b"bench hub secret"),
            settings=DispatchSettings(rng=random.Random(1)),
        )
        await dispatcher.start()
        rng = random.Random(2)
        async with store.write() as conn:
            await emit(
                conn,
                [
                    OutgoingEvent(
                        TICKET_CREATED, {"ticket_id": i, "n": i}, rng.randrange(customers), i
                    )
                    for i in range(events)
                ],
                utcnow(),
            )
        started = time.perf_counter()
        rounds = 0
        delivered = 0
        while delivered < events:
            result = await dispatcher.run_round()
            rounds += 1
            delivered += result.delivered
            if not (result.attempted or result.fanned_out):
                raise SystemExit(f"stalled after {delivered} of {events} deliveries")
        elapsed = time.perf_counter() - started
        await dispatcher.close()
        counts = await received(base)
    await store.close()
    rate = events / elapsed
    print(
        f"deliveries: {events} events of {customers} customers in {elapsed:.2f}s "
        f"({rounds} rounds) receiver ok={counts['ok']} bad={counts['bad']} -> {rate:.0f}/s",
        flush=True,
    )
    if counts["ok"] < events or counts["bad"]:
        raise SystemExit(f"the receiver verified {counts} of {events}")
    return rate


# --- 2. ingest with and without an endpoint ---------------------------------------------


async def parked_endpoint(storage_url: str, base: str) -> None:
    """The endpoint in the store before the hub starts, disabled: the hub keeps it so.
    Its events are recorded and fanned out into delivery rows; none is posted."""
    from hub.config.webhooks import WebhookEndpointConfig
    from hub.store import Store, utcnow
    from hub.webhooks.endpoints import set_enabled, sync_config_endpoints

    store = Store(storage_url)
    await store.migrate()
    await sync_config_endpoints(
        store, [WebhookEndpointConfig.model_validate(endpoint(base))], utcnow()
    )
    async with store.write() as conn:
        await set_enabled(conn, "bench", False, utcnow(), "parked by the bench")
    await store.close()


async def bench_ingest(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    """Each hub run's ratio to the mean of the bare runs just before and after it."""
    sys.path.insert(0, str(HERE.parent))
    from ingest_webform import bench_bare, bench_hub  # type: ignore[import-not-found]

    bare = [await bench_bare("bare#1", args)]
    ratios: dict[str, float] = {}
    async with receiver() as base:
        for name in ("without", "parked", "live"):
            url = f"sqlite+aiosqlite:///{workdir / (name + '.db')}"
            extra = {} if name == "without" else {"webhooks": [endpoint(base)]}
            if name == "parked":
                await parked_endpoint(url, base)
            before = (await received(base))["ok"]
            hub = await bench_hub(f"sqlite ({name})", url, workdir, args, **extra)
            print(hub.line(), flush=True)
            if name == "live":
                got = (await received(base))["ok"] - before
                print(f"sqlite (live): the receiver verified {got} deliveries meanwhile")
            bare.append(await bench_bare(f"bare#{len(bare) + 1}", args))
            ratios[name] = hub.rate / ((bare[-2].rate + bare[-1].rate) / 2)
            ratios[f"{name}_cpu_ms"] = hub.cpu_ms_per_msg
    return ratios


# --- 3. what emitting costs, alone ------------------------------------------------------


async def bench_emit_cpu(workdir: Path, messages: int = 6400) -> tuple[float, float]:
    """CPU ms per web-form message of recording its three events (in group commits of 64,
    as ingest does) and of fanning them out to one endpoint: a figure the neighbours'
    load moves much less than the throughput ratios."""
    from hub.config.webhooks import WebhookEndpointConfig
    from hub.events.outgoing import OutgoingEvent, emit
    from hub.store import Store, utcnow
    from hub.webhooks.endpoints import list_endpoints, sync_config_endpoints
    from hub.webhooks.fanout import fan_out

    store = Store(f"sqlite+aiosqlite:///{workdir / 'emit.db'}")
    await store.migrate()
    cfg = WebhookEndpointConfig.model_validate(endpoint("http://127.0.0.1:9"))
    await sync_config_endpoints(store, [cfg], utcnow())

    def three(cid: int) -> list[OutgoingEvent]:
        common = {"customer_id": cid, "channel": "webform", "connector_id": "contact"}
        return [
            OutgoingEvent("customer.created", {"customer_id": cid, "locale": "en"}, cid),
            OutgoingEvent(
                "ticket.created",
                {
                    **common,
                    "ticket_id": cid,
                    "ref": f"T-{cid}",
                    "team_id": "support",
                    "priority": "normal",
                    "subject": "Question",
                },
                cid,
                cid,
            ),
            OutgoingEvent(
                "message.received", {**common, "message_id": cid, "ticket_id": cid}, cid, cid
            ),
        ]

    async def commits(with_events: bool) -> float:
        cpu = time.process_time()
        for b in range(0, messages, 64):
            async with store.write() as conn:
                if with_events:
                    await emit(conn, [e for c in range(b, b + 64) for e in three(c)], utcnow())
        return time.process_time() - cpu

    emit_ms = (await commits(True) - await commits(False)) * 1000 / messages
    async with store.read() as conn:
        endpoints = await list_endpoints(conn)
    cpu = time.process_time()
    while await fan_out(store, endpoints, utcnow()):
        pass
    fan_ms = (time.process_time() - cpu) * 1000 / messages
    await store.close()
    print(f"emit_cpu_ms_per_msg={emit_ms:.3f} fanout_cpu_ms_per_msg={fan_ms:.3f} (3 events each)")
    return emit_ms, fan_ms


async def bench_main(args: argparse.Namespace) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("hub.channels.supervisor").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="hub-bench-hooks-") as tmp:
        workdir = Path(tmp)
        r = await bench_ingest(args, workdir)
        rate = await bench_deliveries(args.events, args.customers, workdir)
        emit_ms, fan_ms = await bench_emit_cpu(workdir)
    added = (emit_ms + fan_ms) / r["without_cpu_ms"]
    print(
        f"emitting and fan-out add {added:.1%} to the hub's CPU per message "
        f"({r['without_cpu_ms']:.3f} ms without an endpoint)"
    )
    print(
        f"cpu_ms_per_msg: without={r['without_cpu_ms']:.3f} parked={r['parked_cpu_ms']:.3f} "
        f"live={r['live_cpu_ms']:.3f} (live: the hub also posts 3 webhooks per message)"
    )
    print(
        f"ingest_ratio_without={r['without']:.3f} ingest_ratio_endpoint_parked={r['parked']:.3f} "
        f"ingest_ratio_endpoint_live={r['live']:.3f}"
    )
    print(
        f"ingest_ratio_kept_parked={r['parked'] / r['without']:.3f} (emitting and fan-out; "
        f"acceptance: >= 0.85) ingest_ratio_kept_live={r['live'] / r['without']:.3f}"
    )
    print(f"webhook_deliveries_per_s={rate:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    rp = sub.add_parser("receiver", help="(internal) the receiver process")
    rp.add_argument("port", type=int)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test)")
    # The load generator's settings, as bench/ingest_webform.py takes them.
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--bare-requests", type=int, default=40_000)
    parser.add_argument("--bare-seconds", type=float, default=6.0)
    args = parser.parse_args()
    if args.command == "receiver":
        receiver_main(args.port)
        return
    args.outbound = "parked"
    if args.quick:
        args.events, args.seconds, args.bare_seconds, args.warmup = 1000, 4.0, 3.0, 200
    asyncio.run(bench_main(args))


if __name__ == "__main__":
    main()
