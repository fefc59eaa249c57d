"""The duplicate sweep over a real store: the review queue, "not the same person" for good,
automatic merges only when configured and only where nothing verified disagrees, the CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from hub.agents.accounts import Actor
from hub.cli.main import main
from hub.config.duplicates import DuplicatesConfig
from hub.customers.merge import undo_merge
from hub.dedup.review import mark_distinct, review_queue
from hub.dedup.sweep import sweep
from hub.store import Store, utcnow
from hub.store.schema import customer_merges, customers, duplicate_suggestions, identities
from tests.support import base_config

# (name, birthday, address, identities)
PEOPLE: list[tuple[str, date | None, dict[str, str], list[tuple[str, str]]]] = [
    ("Rahim Uddin", date(1990, 11, 2), {"city": "Dhaka"}, [("email", "rahim.uddin@gmail.com")]),
    (
        "Rahim Udin",
        date(1990, 11, 2),
        {"street": "House 5 Road 2", "city": "Dhaka", "postal_code": "1205"},
        [("phone", "+8801711234567")],
    ),
    ("রহিম উদ্দিন", date(1990, 11, 2), {"city": "Dhaka"}, [("phone", "+8801711234568")]),
    ("Fatema Begum", None, {}, [("email", "fatema.begum@gmail.com")]),
    ("Begum Fatema", None, {}, [("email", "fatemabegum+shop@googlemail.com")]),
    ("Ann Smith", date(1988, 4, 12), {}, [("email", "ann@example.com"), ("telegram", "111")]),
    ("Ann Smith", date(1988, 4, 12), {}, [("email", "ann+x@example.com"), ("telegram", "222")]),
    ("Chen Wei", date(1970, 1, 1), {"city": "Khulna"}, [("phone", "+8801812345678")]),
]


async def _seed(store: Store) -> list[int]:
    ids = []
    async with store.write() as conn:
        for name, birthday, address, idents in PEOPLE:
            cid = (
                await conn.execute(
                    customers.insert()
                    .values(
                        display_name=name,
                        locale="en",
                        timezone="Asia/Dhaka",
                        birthday=birthday,
                        address=address,
                        tags=[],
                        created_at=utcnow(),
                        updated_at=utcnow(),
                    )
                    .returning(customers.c.id)
                )
            ).scalar_one()
            for kind, value in idents:
                await conn.execute(
                    identities.insert().values(
                        customer_id=cid, kind=kind, value=value, created_at=utcnow()
                    )
                )
            ids.append(cid)
    return ids


async def _queue(store: Store) -> dict[tuple[int, int], Any]:
    async with store.read() as conn:
        rows = await conn.execute(select(duplicate_suggestions))
        return {(r.customer_id, r.other_customer_id): r for r in rows}


async def test_sweep_queues_alike_customers_with_scores_and_reasons(storage_url: str) -> None:
    store = Store(storage_url)
    await store.migrate()
    try:
        rahim, udin, bengali, fatema, begum, ann1, ann2, chen = await _seed(store)
        result = await sweep(store, DuplicatesConfig())
        queue = await _queue(store)
        assert (rahim, udin) in queue and (udin, bengali) in queue and (rahim, bengali) in queue
        # Gmail ignores dots and +tags: one mailbox, an exact match at score 1.
        exact = queue[(fatema, begum)]
        assert exact.score == 1.0 and exact.reason.startswith("exact: same email address")
        assert queue[(ann1, ann2)].score == 1.0  # queued: a person decides (two Telegram users)
        assert all(chen not in pair for pair in queue)
        assert all(
            0.0 <= r.score <= 1.0 and r.reasons and r.status == "open" for r in queue.values()
        )
        assert result.queued == len(queue) and result.merged == 0  # auto_merge is off
        bengali_pair = queue[(udin, bengali)]
        assert "same birthday" in bengali_pair.reasons
        # Nothing merged: every customer is still its own.
        async with store.read() as conn:
            merged = (await conn.execute(select(customers.c.merged_into))).scalars().all()
            # The review queue shows the likeliest first, each pair once, with its reasons.
            admin = Actor("agent", "ada", "Ada", "admin", frozenset())
            shown = await review_queue(conn, admin)
        assert set(merged) == {None}
        assert [p.score for p in shown] == sorted((p.score for p in shown), reverse=True)
        assert len(shown) == len(queue) and all(p.left.id < p.right.id for p in shown)
        # A second sweep finds the same and changes nothing.
        again = await sweep(store, DuplicatesConfig())
        assert again.queued == 0 and again.pairs == result.pairs
        assert {k: tuple(r) for k, r in (await _queue(store)).items()} == {
            k: tuple(r) for k, r in queue.items()
        }
    finally:
        await store.close()


async def test_not_the_same_person_is_never_suggested_again(storage_url: str) -> None:
    store = Store(storage_url)
    await store.migrate()
    try:
        rahim, udin, *_ = await _seed(store)
        await sweep(store, DuplicatesConfig())
        pair = (await _queue(store))[(rahim, udin)]
        async with store.write() as conn:
            assert await mark_distinct(conn, pair.id, "Ada")
            assert not await mark_distinct(conn, pair.id, "Ada")  # decided once
        result = await sweep(store, DuplicatesConfig())
        assert (rahim, udin) not in {(c.a, c.b) for c in result.pairs}
        after = (await _queue(store))[(rahim, udin)]
        assert after.status == "distinct" and after.decided_by == "Ada"
    finally:
        await store.close()


async def test_auto_merge_takes_only_conflict_free_exact_matches(storage_url: str) -> None:
    store = Store(storage_url)
    await store.migrate()
    try:
        _, udin, _, fatema, begum, ann1, ann2, _ = await _seed(store)
        result = await sweep(store, DuplicatesConfig(auto_merge=True))
        async with store.read() as conn:
            merged = dict(
                (await conn.execute(select(customers.c.id, customers.c.merged_into))).all()
            )
            merges = (await conn.execute(select(customer_merges))).all()
        # The Gmail pair merges into the older record ...
        assert merged[begum] == fatema and result.merged == 1
        # ... the two Ann Smiths share a mailbox (+tags aside) but are two Telegram users:
        # a verified identity disagrees, so they wait for a person.
        assert merged[ann2] is None and (ann1, ann2) in await _queue(store)
        # Fuzzy pairs are never merged by the hub.
        assert merged[udin] is None
        assert [m.merged_by for m in merges] == ["duplicate detection"]
        async with store.write() as conn:  # and the automatic merge undoes like any other
            await undo_merge(conn, merges[0].id, "Ada")
        async with store.read() as conn:
            back = (
                await conn.execute(select(customers.c.merged_into).where(customers.c.id == begum))
            ).scalar_one()
        assert back is None
    finally:
        await store.close()


def test_cli_prints_one_json_line_per_pair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump(base_config(url), allow_unicode=True))

    async def seed() -> list[int]:
        store = Store(url)
        await store.migrate()
        try:
            return await _seed(store)
        finally:
            await store.close()

    ids = asyncio.run(seed())
    assert main(["customers", "duplicates", "--config", str(config), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and all(set(x) == {"a", "b", "score", "reasons"} for x in lines)
    assert all(x["score"] >= DuplicatesConfig().review_threshold for x in lines)
    assert any(x["a"] == ids[3] and x["b"] == ids[4] and x["score"] == 1.0 for x in lines)
    scores = [x["score"] for x in lines]
    assert scores == sorted(scores, reverse=True)


async def test_auto_merge_of_a_chain_stops_where_verified_ids_disagree(tmp_path: Path) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    await store.migrate()
    now = utcnow()
    try:
        async with store.write() as conn:
            ids = []
            for n, idents in enumerate(
                [
                    [("email", "kim@example.com"), ("telegram", "1")],
                    [("email", "kim+a@example.com"), ("phone", "+8801711000009")],
                    [("whatsapp", "8801711000009"), ("telegram", "2")],
                ]
            ):
                cid = (
                    await conn.execute(
                        customers.insert()
                        .values(display_name=f"Kim {n}", locale="en", timezone="UTC")
                        .values(address={}, tags=[], created_at=now, updated_at=now)
                        .returning(customers.c.id)
                    )
                ).scalar_one()
                ids.append(cid)
                for kind, value in idents:
                    await conn.execute(
                        identities.insert().values(
                            customer_id=cid, kind=kind, value=value, created_at=now
                        )
                    )
        settings = DuplicatesConfig(auto_merge=True)
        first = await sweep(store, settings)
        second = await sweep(store, settings)
        async with store.read() as conn:
            into = dict((await conn.execute(select(customers.c.id, customers.c.merged_into))).all())
        # One merge (a with b), then the merged record's Telegram id disagrees with c's.
        assert first.merged == 1 and second.merged == 0
        assert into[ids[1]] == ids[0] and into[ids[2]] is None
        queue = await _queue(store)
        assert "but different telegram accounts" in queue[(ids[0], ids[2])].reasons
    finally:
        await store.close()
