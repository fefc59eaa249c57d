"""The web form load generator of bench/ingest_webform.py and bench/webhooks.py: a process
of its own (`run_loadgen` starts it), an aiohttp client with `--concurrency` workers
posting JSON over loopback, a warm-up then the measured posts, bounded in count and in
time; it prints its figures as one JSON line. Every post is a new customer (a distinct
email)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve()

MESSAGES = (
    "Hello, my order has not arrived yet. Could you please tell me where it is?",
    "I was charged twice for the same order, please refund one of the payments.",
    "The shoes I bought are too small; how do I exchange them for a larger size?",
    "Can you send me a copy of the invoice for my last purchase, please?",
)


def _bodies(tag: str, start: int, count: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "name": f"Bench Customer {i}",
                "email": f"bench-{tag}-{i}@example.com",
                "subject": f"Question {i}",
                "message": MESSAGES[i % len(MESSAGES)],
            }
        ).encode()
        for i in range(start, start + count)
    ]


async def _load(url: str, bodies: list[bytes], concurrency: int, seconds: float) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    next_index = 0
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            nonlocal next_index
            while next_index < len(bodies) and time.perf_counter() < deadline:
                body = bodies[next_index]
                next_index += 1
                t0 = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        await resp.read()
                        statuses[resp.status] += 1
                except (aiohttp.ClientError, TimeoutError) as exc:
                    errors[type(exc).__name__] += 1
                    continue
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    latencies.sort()
    return {
        "ok": ok,
        "sent": next_index,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": dict(errors),
        "elapsed": elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
    }


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def loadgen_main(args: argparse.Namespace) -> None:
    tag = uuid.uuid4().hex[:8]
    warm = _bodies(tag, 0, args.warmup)
    bodies = _bodies(tag, args.warmup, args.requests)
    warm_result = asyncio.run(_load(args.url, warm, args.concurrency, args.seconds))
    result = asyncio.run(_load(args.url, bodies, args.concurrency, args.seconds))
    result["warmup_ok"] = warm_result["ok"]
    print(json.dumps(result))


async def run_loadgen(
    url: str, *, requests: int, warmup: int, concurrency: int, seconds: float
) -> dict[str, Any]:
    """Start the load generator process against `url` and wait for its figures."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE),
        url,
        f"--requests={requests}",
        f"--warmup={warmup}",
        f"--concurrency={concurrency}",
        f"--seconds={seconds}",
        stdout=asyncio.subprocess.PIPE,
    )
    # Bounded: the generator stops itself after `seconds` per phase; this is the backstop.
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=2 * seconds + 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed with status {proc.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=12.0)
    loadgen_main(parser.parse_args())


if __name__ == "__main__":
    main()
