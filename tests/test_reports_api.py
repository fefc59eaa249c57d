"""The reports over the API, the CSV exports and `hub reports summary`: role-checked, and
the same numbers to the unit on the hand-made history (tests/report_history.py)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from hub.agents.auth import create_api_token
from hub.cli.main import main
from hub.reports.output import FIELDS, TOTAL
from tests.inbox_support import password_hash
from tests.report_history import history_config, write_history
from tests.support import hub_running, hub_url, make_config

ADMIN = {"Authorization": "Bearer test-token-0123456789"}
MARCH = "from=2026-03-01&to=2026-03-10&tz=America/New_York"


def reports_config(storage_url: str) -> dict[str, Any]:
    data = history_config(storage_url)
    data["agents"] = {
        "accounts": [
            {"username": "sam", "name": "Sam", "teams": ["support"],
             "password_hash": password_hash("sam")},
            {"username": "lena", "name": "Lena Lead", "role": "lead", "teams": ["support"],
             "password_hash": password_hash("sam")},
        ]
    }  # fmt: skip
    return data


def _number(cell: str) -> Any:
    if cell == "":
        return None
    return float(cell) if "." in cell else int(cell)


async def test_reports_api_csv_and_cli_agree_and_check_roles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = reports_config(f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    config_file = tmp_path / "hub.yaml"
    config_file.write_text(yaml.safe_dump(data))
    async with hub_running(make_config(data)) as hub, aiohttp.ClientSession() as http:
        ids = await write_history(hub)
        async with hub.store.write() as conn:
            sam = {"Authorization": f"Bearer {await create_api_token(conn, 'sam', 't')}"}
            lena = {"Authorization": f"Bearer {await create_api_token(conn, 'lena', 't')}"}

        async def get(path: str, headers: dict[str, str]) -> tuple[int, str]:
            async with http.get(hub_url(hub, "/api/v1" + path), headers=headers) as resp:
                return resp.status, await resp.text()

        # Roles: an agent gets 403; a lead sees their teams only.
        for path in ("/reports", "/reports/groups.csv", "/reports/tickets.csv"):
            assert (await get(f"{path}?{MARCH}", sam))[0] == 403
        assert (await get(f"/reports?{MARCH}&team=billing", lena))[0] == 403
        status, body = await get(f"/reports?{MARCH}&group=team", lena)
        assert status == 200
        lead_view = json.loads(body)
        assert [g["group"] for g in lead_view["groups"]] == ["support"]
        assert lead_view["total"]["created"] == 3  # A, C, D; B is billing's
        assert (await get("/reports?from=2026-03-10&to=2026-03-01", ADMIN))[0] == 400
        assert (await get(f"/reports?{MARCH}&group=colour", ADMIN))[0] == 400

        # The API's JSON, the CSV export and the command line: the same numbers.
        query = f"{MARCH}&group=agent"
        status, body = await get(f"/reports?{query}", ADMIN)
        api = json.loads(body)
        assert status == 200 and api["groups"]
        status, text = await get(f"/reports/groups.csv?{query}", ADMIN)
        assert status == 200
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == ["agent", *FIELDS]
        from_csv = {r[0]: {k: _number(v) for k, v in zip(FIELDS, r[1:], strict=True)}
                    for r in rows[1:]}  # fmt: skip
        from_api = {g["group"]: {k: g[k] for k in FIELDS} for g in api["groups"]}
        from_api[TOTAL] = api["total"]
        assert from_csv == from_api
        assert from_api["sam"]["first_response_median_s"] == 1800.0

        argv = ["reports", "summary", "--config", str(config_file), "--from", "2026-03-01",
                "--to", "2026-03-10", "--tz", "America/New_York", "--group", "agent", "--json"]  # fmt: skip
        assert await asyncio.to_thread(main, argv) == 0
        assert json.loads(capsys.readouterr().out) == api

        # One row per ticket, with all its metrics.
        status, text = await get(f"/reports/tickets.csv?{MARCH}", ADMIN)
        tickets = {r["ticket"]: r for r in csv.DictReader(io.StringIO(text))}
        a = tickets[f"T-{ids['A']}"]
        assert (a["first_responder"], a["first_response_s"], a["replies"]) == ("sam", "1800.0", "2")
        # Both cycles: three hours on Monday, one after the reopening on Tuesday.
        assert (a["resolution_s"], a["solves"], a["reopens"]) == ("14400.0", "2", "1")
        assert tickets[f"T-{ids['B']}"]["first_response_business_s"] == "5400.0"
        assert len(tickets) == 4
