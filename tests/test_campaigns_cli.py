"""`hub campaigns create | list | preview` in process: campaigns kept in the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from hub.cli.main import main
from hub.store import Store
from hub.store.schema import outbox
from tests.support import base_config
from tests.test_campaigns import _add, _campaign, _sweeper


def _config(tmp_path: Path) -> tuple[str, Path]:
    url = f"sqlite+aiosqlite:///{tmp_path}/h.db"
    data = base_config(url)
    data["campaigns"] = [_campaign().model_dump(mode="json")]
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return url, path


def test_preview_of_an_unknown_campaign_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, path = _config(tmp_path)
    assert main(["campaigns", "preview", "autumn", "--config", str(path)]) == 2
    assert "no campaign 'autumn' (campaigns: spring)" in capsys.readouterr().err


def test_create_list_and_send_a_cli_campaign(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, path = _config(tmp_path)

    def hub(*args: str) -> int:
        return main(["campaigns", *args, "--config", str(path)])

    create = ["create", "autumn", "--template", "seasonal_offer", "--date", "2026-05-01"]
    assert hub(*create, "--tag", "vip", "--param", "code=FALL5", "--open-ticket", "no") == 0
    assert hub(*create) == 1
    assert "campaign 'autumn' already exists" in capsys.readouterr().err
    assert hub("create", "spring", "--template", "seasonal_offer", "--date", "2026-05-01") == 1
    assert "defined in the config file" in capsys.readouterr().err
    assert hub("create", "Bad!", "--template", "seasonal_offer", "--date", "2026-05-01") == 2
    assert hub("create", "x", "--template", "nope", "--date", "2026-05-01") == 2
    assert hub("create", "y", "--template", "seasonal_offer", "--date", "May 1") == 2
    capsys.readouterr()
    assert hub("list") == 0
    assert capsys.readouterr().out.splitlines() == [
        "spring\t2026-05-01 10:00\tseasonal_offer\tenabled\tconfig",
        "autumn\t2026-05-01 10:00\tseasonal_offer\tenabled\tcli",
    ]
    assert hub("preview", "autumn") == 0
    assert "in segment: 0" in capsys.readouterr().out

    async def sweep() -> list[tuple[str, str]]:
        store = Store(url)
        try:
            await _add(store, "Vip", tags=["vip"])
            await _add(store, "Plain")
            results = await _sweeper(store, _campaign()).sweep(
                datetime(2026, 5, 1, 4, 0, tzinfo=UTC)
            )
            assert {r.campaign: r.queued for r in results} == {"spring": 2, "autumn": 1}
            async with store.read() as conn:
                rows = await conn.execute(
                    select(outbox.c.recipient, outbox.c.body_text).where(
                        outbox.c.kind == "campaign:autumn"
                    )
                )
                return [tuple(r) for r in rows]
        finally:
            await store.close()

    [(recipient, body)] = asyncio.run(sweep())
    assert recipient == "vip@example.com" and "FALL5" in body
