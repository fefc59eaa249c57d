"""`hub customers duplicates`: one sweep of duplicate detection, on demand."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from hub.cli.common import DEFAULT_CONFIG, SubParsers, with_config
from hub.config.loader import Config
from hub.connector import ConnectorRegistry


def add_duplicates_parser(csub: SubParsers, registry: ConnectorRegistry) -> None:
    q = csub.add_parser(
        "duplicates",
        help="find duplicate customers and queue them for review",
        description="Compare every customer with the likely others (hub.dedup), put the pairs "
        "at or above duplicates.review_threshold into the inbox's review queue (merging exact "
        "ones when duplicates.auto_merge is set), and print them, likeliest first. Pairs a "
        "reviewer called 'not the same person' are never printed again.",
    )
    q.add_argument("--config", default=DEFAULT_CONFIG)
    q.add_argument(
        "--json",
        action="store_true",
        help='one JSON object a line: {"a": id, "b": id, "score": 0..1, "reasons": [...]}',
    )
    q.set_defaults(run=lambda args: with_config(args.config, registry, lambda c: _run(c, args)))


def _run(config: Config, args: argparse.Namespace) -> int:
    return asyncio.run(_sweep(config, as_json=args.json))


async def _sweep(config: Config, *, as_json: bool) -> int:
    from hub.dedup.sweep import sweep
    from hub.store import Store

    store = Store(config.storage.url)
    try:
        await store.migrate()
        result = await sweep(store, config.duplicates)
    finally:
        await store.close()
    for c in sorted(result.pairs, key=lambda c: (-c.score, c.a, c.b)):
        if as_json:
            line = {"a": c.a, "b": c.b, "score": round(c.score, 4), "reasons": list(c.reasons)}
            print(json.dumps(line, ensure_ascii=False))
        else:
            print(f"{c.a}\t{c.b}\t{c.score:.2f}\t{'; '.join(c.reasons)}")
    summary = (
        f"{result.customers} customers, {len(result.pairs)} pairs, "
        f"{result.queued} new in the review queue, {result.merged} merged"
    )
    print(summary, file=sys.stderr)
    return 0
