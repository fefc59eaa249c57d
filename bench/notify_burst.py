"""A burst of tickets into Slack: batched notifications against one post per ticket.

Run: `.venv/bin/python bench/notify_burst.py [--tickets 200]`.

The real hub on a fresh SQLite file, its web form taking `--tickets` posts at once
(each a new customer whose message matches a rule with `notify: [slack]`), and a loopback
Slack incoming-webhook fake (tests/fakes/chat_webhooks.py) counting what arrives. Two runs
in this process: the baseline with `max_tickets_per_post: 1` (one post per ticket, as a
notifier without batching would do) and the shipped defaults (25 a post, a 5 s window).
The connector's rate limit is raised to 6,000 a minute in both, so the baseline is not
held back by it; at Slack's one post a second the baseline would take a post's worth of
seconds per ticket, which is printed too.

Printed per run: posts, tickets told (must equal --tickets, each once), seconds from the
first form post until the last ticket was told. The last line is the headline:
`posts_ratio=<batched posts / baseline posts>`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.chat_webhooks import FakeSlackWebhook  # noqa: E402
from tests.support import base_config, hub_running, hub_url, make_config  # noqa: E402

REF = re.compile(r"\bT-(\d+)\b")


async def run(tickets: int, per_post: int, window: float) -> tuple[int, int, float]:
    slack = await FakeSlackWebhook().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = base_config(f"sqlite+aiosqlite:///{tmp}/hub.db")
            data["replies"]["acknowledge_new_tickets"] = False
            data["connectors"].append(
                {
                    "id": "slack",
                    "type": "slack",
                    "webhook_url": slack.url,
                    "rate_limit_per_minute": 6000,
                }
            )
            data["routing"]["rules"][0]["notify"] = ["slack"]
            data["notifications"] = {
                "sweep_seconds": 0.5,
                "batch_window_seconds": window,
                "max_tickets_per_post": per_post,
            }
            async with hub_running(make_config(data)) as hub, aiohttp.ClientSession() as http:
                url = hub_url(hub, "/channels/contact/")

                async def post(n: int) -> None:
                    body = {"email": f"c{n}@example.com", "message": f"Refund invoice {n}"}
                    async with http.post(url, json=body) as resp:
                        assert resp.status == 201, await resp.text()

                start = time.perf_counter()
                await asyncio.gather(*(post(n) for n in range(tickets)))
                await slack.wait_for(lambda: _told(slack) >= tickets, timeout=600)
                seconds = time.perf_counter() - start
    finally:
        await slack.stop()
    refs = Counter(int(m) for t in slack.texts() for m in REF.findall(t))
    assert all(n == 1 for n in refs.values()), "a ticket was told twice"
    return len(slack.posts), len(refs), seconds


def _told(slack: FakeSlackWebhook) -> int:
    return sum(len(REF.findall(t)) for t in slack.texts())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    base_posts, base_told, base_s = await run(args.tickets, 1, 0.0)
    print(f"baseline (1 a post): posts={base_posts} told={base_told} seconds={base_s:.2f}")
    print(f"baseline at Slack's 1 post/s would take >= {base_posts:.0f} s")
    posts, told, seconds = await run(args.tickets, 25, 5.0)
    print(f"batched (25 a post, 5 s window): posts={posts} told={told} seconds={seconds:.2f}")
    print(f"posts_ratio={posts / base_posts:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
