"""`hub sla recompute` after a calendar edit: running clocks on that calendar take the new
holiday, a clock in calendar time does not move, and a met one is history."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from hub.cli.main import main
from hub.config.loader import load_config
from tests.sla_support import AUTH, SimClock, api, post_form, targets, use_clock, with_sla
from tests.support import REGISTRY, base_config, hub_running

FRIDAY = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
TUESDAY_10 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def config_data(tmp_path: Path, holidays: list[str]) -> dict[str, Any]:
    data = with_sla(base_config(f"sqlite+aiosqlite:///{tmp_path}/hub.db"), "http://127.0.0.1:9/x")
    data["calendars"] = {
        "office": {
            "timezone": "UTC",
            "hours": {"mon-fri": ["09:00-17:00"]},
            "holidays": {"dates": holidays},
        }
    }
    data["sla"]["policies"] = [
        {
            "name": "office",
            "match": {"priority": ["high"]},
            "business": "office",
            "targets": {"high": {"first_response": "2h", "resolution": "2h"}},
        },
        {"name": "clock", "targets": {"normal": {"first_response": "2h"}}},
    ]
    return data


async def open_tickets(path: Path) -> dict[str, int]:
    config = load_config(path, REGISTRY)
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        clock = use_clock(hub, SimClock(FRIDAY))
        made = {
            "office": await post_form(http, hub, "a@example.com", "Refund my invoice"),
            "answered": await post_form(http, hub, "b@example.com", "Refund my invoice"),
            "clock": await post_form(http, hub, "c@example.com", "Hello"),
        }
        clock.now = FRIDAY + timedelta(minutes=5)
        await api(http, hub, "POST", f"/tickets/{made['answered']}/reply", {"text": "Done"})
    return made


async def clocks_after(path: Path, ids: dict[str, int]) -> dict[str, Any]:
    async with hub_running(load_config(path, REGISTRY)) as hub:
        return {name: await targets(hub, t) for name, t in ids.items()}


def test_recompute_moves_the_clocks_of_the_edited_calendar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(config_data(tmp_path, [])))
    ids = asyncio.run(open_tickets(path))
    before = asyncio.run(clocks_after(path, ids))
    assert before["office"]["first_response", 1].due_at == MONDAY_10
    # Monday becomes a holiday.
    path.write_text(yaml.safe_dump(config_data(tmp_path, ["2026-11-30"])))
    capsys.readouterr()
    assert main(["sla", "recompute", "--config", str(path), "--calendar", "office"]) == 0
    out = capsys.readouterr().out.splitlines()
    after = asyncio.run(clocks_after(path, ids))
    # Two running clocks on the office calendar: the office ticket's first response and
    # resolution, and the answered ticket's resolution; the met first response is history.
    assert out[-2:] == ["clocks=3 running", "recomputed=3"]
    assert after["office"]["first_response", 1].due_at == TUESDAY_10
    assert after["office"]["resolution", 1].due_at == TUESDAY_10
    assert after["answered"]["first_response", 1].due_at is None
    assert after["answered"]["first_response", 1].status == "achieved"
    assert after["clock"]["first_response", 1].due_at == FRIDAY + timedelta(hours=2)
    assert main(["sla", "recompute", "--config", str(path), "--calendar", "nope"]) == 2
