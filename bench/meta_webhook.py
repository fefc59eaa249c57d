"""WhatsApp webhook ingest through the real hub (SQLite), signed as Meta signs it.

Run: `.venv/bin/python bench/meta_webhook.py [--messages 2000]`.

In one process, one run (only same-run ratios mean much on a shared machine):

- forged: posts with a wrong X-Hub-Signature-256 (401, nothing parsed): the cost of
  turning away what does not come from Meta;
- single: one message per signed post, 32 posts in flight, as Meta sends at low volume;
- batched: 50 messages per signed post, as Meta batches under load.

Every message is from a new customer, so each makes a customer, a ticket and the chat
bot's hand-over in the outbox (sent meanwhile to the loopback Graph API fake). After each
run the stored messages are counted and must match. The headline is the last line:
`batched_msgs_per_s=<n>`, with the ratio batched/single before it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hub.store.schema import messages  # noqa: E402
from tests.fakes.graph_api import FakeGraphApi  # noqa: E402
from tests.meta_harness import APP_SECRET, fake_graph, meta_hub  # noqa: E402


def delivery(start: int, count: int, tag: str) -> bytes:
    now = str(int(time.time()))
    changes = []
    for i in range(start, start + count):
        wa_id = f"88017{i:08d}"
        changes.append(
            {
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1"},
                    "contacts": [{"profile": {"name": f"Customer {i}"}, "wa_id": wa_id}],
                    "messages": [
                        {
                            "from": wa_id,
                            "id": f"wamid.{tag}.{i}",
                            "timestamp": now,
                            "type": "text",
                            "text": {"body": "Hello, where is my order? It has not arrived."},
                        }
                    ],
                },
            }
        )
    body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": changes}]}
    return json.dumps(body).encode()


async def post_all(url: str, bodies: list[bytes], signed: bool, concurrency: int = 32) -> float:
    queue = list(reversed(bodies))
    statuses: dict[int, int] = {}

    async def worker(session: aiohttp.ClientSession) -> None:
        while queue:
            body = queue.pop()
            sig = FakeGraphApi.sign(APP_SECRET if signed else "forged-secret", body)
            headers = {"X-Hub-Signature-256": sig, "Content-Type": "application/json"}
            async with session.post(url, data=body, headers=headers) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    expected = 200 if signed else 401
    assert statuses == {expected: len(bodies)}, statuses
    return elapsed


async def stored(rig: Any) -> int:
    async with rig.hub.store.read() as conn:
        query = select(func.count()).select_from(messages).where(messages.c.direction == "in")
        return int((await conn.execute(query)).scalar_one())


async def main(n: int) -> None:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        async with fake_graph() as api, meta_hub(url, api) as rig:
            forged = [delivery(i, 1, "f") for i in range(n)]
            t = await post_all(rig.webhook, forged, signed=False)
            print(f"forged: refused={n} in {t:.2f}s posts_per_s={n / t:.0f}")
            assert await stored(rig) == 0

            single = [delivery(i, 1, "s") for i in range(n)]
            before = await stored(rig)
            t_single = await post_all(rig.webhook, single, signed=True)
            n_in = (await stored(rig)) - before
            assert n_in == n, n_in
            single_rate = n / t_single
            print(f"single: messages={n} posts={n} in {t_single:.2f}s msgs_per_s={single_rate:.0f}")

            batches = [delivery(n + i, 50, "b") for i in range(0, n, 50)]
            t_batched = await post_all(rig.webhook, batches, signed=True, concurrency=4)
            batched_rate = n / t_batched
            print(
                f"batched: messages={n} posts={len(batches)} in {t_batched:.2f}s "
                f"msgs_per_s={batched_rate:.0f}"
            )
            assert await stored(rig) == 2 * n
    print(f"ratio_batched_over_single={batched_rate / single_rate:.2f}")
    print(f"batched_msgs_per_s={batched_rate:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    asyncio.run(main(parser.parse_args().messages))
