"""`hub demo seed`: the demo's history, made through the hub's own code, only for a demo config
and only once; the inbox, the SLA clocks, the reports and the surveys have data."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from hub.demo.seed import has_history
from hub.store import Store
from hub.store.schema import (
    customers,
    duplicate_suggestions,
    metric_events,
    sla_targets,
    survey_responses,
    tickets,
)

ROOT = Path(__file__).resolve().parents[1]


def _demo_config(tmp_path: Path, demo: bool = True) -> Path:
    data = yaml.safe_load((ROOT / "config" / "hub.yaml").read_text(encoding="utf-8"))
    data["hub"]["demo"] = demo
    data["storage"]["url"] = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    data["replies"]["templates_dir"] = str(ROOT / "templates")
    for c in data["connectors"]:
        if c.get("directory"):
            c["directory"] = str(tmp_path / "sent-mail")
    data["privacy"] = {"ledger_file": str(tmp_path / "ledger.jsonl")}
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HUB_LOG_LEVEL": "WARNING"},
    )


async def test_the_demo_history_fills_the_inbox_reports_and_surveys(tmp_path: Path) -> None:
    config = _demo_config(tmp_path)
    run = _hub("demo", "seed", "--config", str(config), "--days", "21", "--customers", "40")
    assert run.returncode == 0, run.stderr
    seeded = int(run.stdout.splitlines()[-1].removeprefix("seeded_tickets="))
    assert seeded >= 30
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    try:
        async with store.read() as conn:
            count = await conn.execute(select(func.count()).select_from(tickets))
            assert count.scalar() == seeded
            statuses = dict(
                (
                    await conn.execute(
                        select(tickets.c.status, func.count()).group_by(tickets.c.status)
                    )
                ).all()
            )
            locales = set((await conn.execute(select(customers.c.locale))).scalars())
            kinds = set((await conn.execute(select(metric_events.c.kind))).scalars())
            clocks = (await conn.execute(select(func.count()).select_from(sla_targets))).scalar()
            ratings = (
                await conn.execute(select(func.count()).select_from(survey_responses))
            ).scalar()
            review = (
                await conn.execute(
                    select(func.count())
                    .select_from(duplicate_suggestions)
                    .where(duplicate_suggestions.c.status == "open")
                )
            ).scalar()
            first_ticket = (await conn.execute(select(func.min(tickets.c.created_at)))).scalar()
            last_ticket = (await conn.execute(select(func.max(tickets.c.created_at)))).scalar()
        assert await has_history(store)
    finally:
        await store.close()
    # Solved tickets and an open backlog, English and Bengali customers, spread over the days.
    assert statuses.get("solved", 0) > 0 and sum(statuses.values()) > statuses["solved"]
    assert {"en", "bn"} <= locales
    assert (last_ticket - first_ticket).days >= 14
    assert {"ticket_opened", "first_response", "ticket_solved", "survey_answered"} <= kinds
    assert clocks > 0 and ratings > 0
    # The review queue is not empty: the imported near-duplicates are waiting in it.
    assert review > 0
    # The reports CLI reads the same history: every seeded ticket was created in the range.
    today = date.today()
    span = ("--from", str(today - timedelta(days=30)), "--to", str(today + timedelta(days=1)))
    run = _hub("reports", "summary", "--config", str(config), *span, "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert _figure(summary, "created") == seeded, summary
    # Once only: a second seed leaves the database alone.
    again = _hub("demo", "seed", "--if-empty", "--config", str(config))
    assert again.returncode == 0 and "already" in again.stdout
    refused = _hub("demo", "seed", "--config", str(config))
    assert refused.returncode == 1 and "already has tickets" in refused.stderr


def test_a_config_that_is_not_a_demo_is_never_seeded(tmp_path: Path) -> None:
    config = _demo_config(tmp_path, demo=False)
    run = _hub("demo", "seed", "--config", str(config))
    assert run.returncode == 2 and "not a demo" in run.stderr
    assert not (tmp_path / "hub.db").exists()


def _figure(summary: Any, name: str) -> Any:
    """A headline figure of `hub reports summary --json`, wherever its total sits."""
    total = summary.get("total", summary)
    value = total.get(name) if isinstance(total, dict) else None
    return value.get("value", value) if isinstance(value, dict) else value
