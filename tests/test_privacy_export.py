"""Export holds one person's data only; anonymize keeps the counts; retention finds the
inactive; the CLI commands work on a real config."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
import yaml
from sqlalchemy import func, select, update

from hub.privacy.retention import inactive_customers
from hub.store import utcnow
from hub.store.schema import customers, identities, messages
from tests import telegram_harness
from tests.support import base_config, hub_url
from tests.telegram_harness import telegram_hub
from tests.test_privacy_erase import AUTH, _customer_of, _tg

pytestmark = [pytest.mark.filterwarnings("ignore:Please use 'Bot.getUpdates':UserWarning")]
ROOT = Path(__file__).resolve().parents[1]
sqlite_url = telegram_harness.sqlite_url


async def test_export_of_a_shared_conversation_holds_nothing_of_the_other(sqlite_url: str) -> None:
    async with (
        telegram_hub(sqlite_url, "webhook") as rig,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        await rig.deliver(
            _tg(1, 111222333, "Bobur", "/human Bobur's secret order 4242", chat=-100555)
        )
        await rig.deliver(_tg(2, 987654321, "Annabel", "Annabel agrees, order 19", chat=-100555))
        ann = await _customer_of(rig.hub, "telegram", "987654321")
        async with http.get(hub_url(rig.hub, f"/api/v1/customers/{ann}/export")) as resp:
            assert resp.status == 200, await resp.text()
            document = await resp.json()
    text = json.dumps(document, ensure_ascii=False)
    assert document["format"] == "hub.customer-export" and document["version"] == 1
    assert "Annabel agrees, order 19" in text
    assert [i["value"] for i in document["identities"]] == ["987654321"]
    for theirs in ("Bobur", "4242", "111222333"):
        assert theirs not in text, theirs
    (ticket,) = document["tickets"]
    assert ticket["shared_conversation"] is True and ticket["subject"] is None


async def test_anonymize_keeps_counts_and_drops_personal_data(sqlite_url: str) -> None:
    async with (
        telegram_hub(sqlite_url, "webhook") as rig,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        await rig.deliver(_tg(1, 987654321, "Annabel", "/human Annabel's refund please"))
        await rig.deliver(_tg(2, 987654321, "Annabel", "and order 19"))
        ann = await _customer_of(rig.hub, "telegram", "987654321")
        async with rig.hub.store.read() as conn:
            count = (await conn.execute(select(func.count()).select_from(messages))).scalar()
        async with http.post(
            hub_url(rig.hub, f"/api/v1/customers/{ann}/erase"), json={"mode": "anonymize"}
        ) as resp:
            assert resp.status == 200, await resp.text()
        async with rig.hub.store.read() as conn:
            assert (
                await conn.execute(select(func.count()).select_from(messages))
            ).scalar() == count
            row = (await conn.execute(select(customers).where(customers.c.id == ann))).one()
            texts = (await conn.execute(select(messages.c.body_text))).scalars().all()
            idents = (await conn.execute(select(identities))).all()
        assert row.display_name is None and row.erased_at is not None
        assert not any("Annabel" in t for t in texts)
        assert idents == []
        # A new message from the same account makes a new, empty customer.
        await rig.deliver(_tg(3, 987654321, "Annabel", "hello again"))
        assert await _customer_of(rig.hub, "telegram", "987654321") != ann
        # Agents may not erase; the API refuses a bad mode.
        async with http.post(
            hub_url(rig.hub, f"/api/v1/customers/{ann}/erase"), json={"mode": "shred"}
        ) as resp:
            assert resp.status in (400, 422)


async def test_retention_dry_run_lists_only_the_inactive(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    async with telegram_hub(url, "webhook") as rig:
        await rig.deliver(_tg(1, 555000111, "Old", "/human old question"))
        await rig.deliver(_tg(2, 555000222, "New", "/human new question"))
        old = await _customer_of(rig.hub, "telegram", "555000111")
        long_ago = utcnow() - timedelta(days=900)
        async with rig.hub.store.write() as conn:
            await conn.execute(
                update(customers)
                .where(customers.c.id == old)
                .values(updated_at=long_ago, created_at=long_ago)
            )
            await conn.execute(
                update(messages).where(messages.c.customer_id == old).values(received_at=long_ago)
            )
            assert await inactive_customers(conn, 730, utcnow()) == [old]
    _cli_checks(tmp_path, url, old)


def _cli_checks(tmp_path: Path, url: str, old: int) -> None:
    data = base_config(url)
    data["privacy"] = {"ledger_file": str(tmp_path / "ledger.jsonl")}
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump(data))
    cfg = ("--config", str(config))
    run = _hub("customers", "retention", "--dry-run", *cfg)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [str(old), "would_erase=1"]
    run = _hub("customers", "erase", "telegram:555000111", "--mode", "delete", *cfg)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == f"erased={old}"
    assert len((tmp_path / "ledger.jsonl").read_text().splitlines()) == 1
    run = _hub("customers", "export", "telegram:555000111", *cfg)
    assert run.returncode == 1 and "no customer" in run.stderr


def _hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
