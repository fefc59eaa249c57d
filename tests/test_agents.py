"""Agents: config validation, lock-out arithmetic, `hub agents add|token`, argon2 at rest."""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from hub.agents.accounts import verify_password
from hub.agents.auth import token_actor
from hub.agents.login_throttle import LoginThrottle, account_key, address_key
from hub.cli.main import main
from hub.config.loader import ConfigError
from hub.store import Store
from hub.store.schema import agents, login_failures
from tests.inbox_support import inbox_config
from tests.support import ROOT, make_config

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("events", "locked_at"),
    [
        # (second, ok?) sequences against max 3 failures in 60 s, locked for 100 s
        ([(0, False), (1, False)], {2: False}),
        ([(0, False), (1, False), (2, False)], {3: True, 101: True, 103: False}),
        # failures spread wider than the window never add up to a lock
        ([(0, False), (70, False), (140, False)], {141: False}),
        # a success clears the account's count
        ([(0, False), (1, False), (2, True), (3, False)], {4: False}),
    ],
)
async def test_lockout_counts_failures_in_a_window(
    storage_url: str, events: list[tuple[float, bool]], locked_at: dict[float, bool]
) -> None:
    store = Store(storage_url)
    await store.migrate()
    t = LoginThrottle(store, limits={"account": 3}, window_seconds=60, lock_seconds=100)
    key = account_key("sam")
    try:
        for second, ok in events:
            if ok:
                await t.success(key)
            else:
                await t.failure([key], T0 + timedelta(seconds=second))
        for second, expected in locked_at.items():
            assert await t.locked([key], T0 + timedelta(seconds=second)) is expected, second
    finally:
        await store.close()


async def test_lockout_is_shared_by_processes_and_bounded(storage_url: str) -> None:
    """Two hub processes on one database count into the same allowance, failures at the
    same moment included; keys nobody failed on lately are deleted."""
    stores = [Store(storage_url), Store(storage_url)]
    await stores[0].migrate()
    a, b = (
        LoginThrottle(s, limits={"account": 4, "address": 50}, window_seconds=60, lock_seconds=100)
        for s in stores
    )
    keys = [account_key("sam"), address_key("192.0.2.7")]
    try:
        await asyncio.gather(a.failure(keys, T0), b.failure(keys, T0), a.failure(keys, T0))
        assert not await b.locked(keys, T0)
        await b.failure(keys, T0 + timedelta(seconds=1))  # the 4th, through the other process
        assert await a.locked(keys, T0 + timedelta(seconds=2))
        assert await b.locked([account_key("sam")], T0 + timedelta(seconds=2))
        assert not await a.locked([address_key("192.0.2.7")], T0 + timedelta(seconds=2))
        for i in range(200):  # made-up usernames, one failure each
            await a.failure([account_key(f"user{i}")], T0 + timedelta(seconds=i))
        later = T0 + timedelta(seconds=200 + 60 + 100 + 1)
        await a.failure([account_key("late")], later)
        async with stores[0].read() as conn:
            left = (await conn.execute(select(login_failures.c.key))).scalars().all()
    finally:
        for s in stores:
            await s.close()
    assert sorted(left) == [account_key("late")]


@pytest.mark.parametrize(
    ("agents_section", "needle"),
    [
        ({"accounts": [{"username": "Sam!", "name": "x"}]}, "agents.accounts[0].username"),
        ({"accounts": [{"username": "s", "name": "x", "password": "short"}]}, "at least 10"),
        ({"accounts": [{"username": "s", "name": "x", "password_hash": "plain"}]}, "argon2"),
        ({"accounts": [{"username": "s", "name": "x", "role": "boss"}]}, "agents.accounts[0].role"),
        ({"canned_responses": [{"name": "x", "body": "{{ oops"}]}, "template error on line 1"),
    ],
)
def test_bad_agents_config_names_the_key(agents_section: dict, needle: str, tmp_path: Path) -> None:
    data = inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db")
    data["agents"] = agents_section
    with pytest.raises(ConfigError) as err:
        make_config(data)
    assert needle in str(err.value)


def _hub_cli(
    config: Path, *args: str, stdin: str = "", monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """`hub ...` in this process (no interpreter start-up): (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([*args, "--config", str(config)])
    return status, out.getvalue(), err.getvalue()


def test_cli_adds_agent_with_argon2_hash_and_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/h.db"
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump(inbox_config(url)))
    status, _, err = _hub_cli(
        config, "agents", "add", "kim", "--name", "Kim", "--team", "billing",
        stdin="kim-password-1234\n", monkeypatch=monkeypatch,
    )  # fmt: skip
    assert status == 0, err
    status, _, err = _hub_cli(
        config, "agents", "add", "lee", "--name", "Lee", "--team", "nope",
        stdin="x" * 12, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert status == 2 and "no team 'nope'" in err
    token = _hub_cli(config, "agents", "token", "kim", monkeypatch=monkeypatch)[1].strip()
    listed = _hub_cli(config, "agents", "list", monkeypatch=monkeypatch)[1]
    assert "kim" in listed and "teams=billing" in listed

    async def check() -> None:
        store = Store(url)
        try:
            async with store.read() as conn:
                row = (await conn.execute(select(agents).where(agents.c.username == "kim"))).one()
                actor = await token_actor(conn, token)
                raw = (await conn.exec_driver_sql("SELECT token_hash FROM agent_tokens")).scalar()
        finally:
            await store.close()
        assert (
            row.password_hash.startswith("$argon2id$") and "kim-password" not in row.password_hash
        )
        assert await verify_password(row.password_hash, "kim-password-1234")
        assert not await verify_password(row.password_hash, "kim-password-12345")
        assert actor is not None and actor.teams == {"billing"} and actor.role == "agent"
        assert token not in raw

    asyncio.run(check())


def test_the_documented_agents_section_is_valid(tmp_path: Path) -> None:
    from hub.config.loader import parse_config
    from tests.support import REGISTRY

    doc = (ROOT / "docs" / "inbox.md").read_text()
    snippet = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    data = inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db")
    del data["agents"]
    text = yaml.safe_dump(data) + snippet
    config = parse_config(text, "docs.yaml", REGISTRY, env={"SAM_PASSWORD": "sam-password-1234"})
    assert [a.username for a in config.agents.accounts] == ["sam", "ada"]
    assert config.agents.canned_responses[0].team == "support"


def test_cross_checks_name_unknown_teams() -> None:
    from hub.config.agents import AgentsConfig, agents_cross_checks

    agents_section = AgentsConfig.model_validate(
        {
            "accounts": [{"username": "sam", "name": "Sam", "teams": ["support", "sales"]}],
            "canned_responses": [{"name": "hi", "body": "Hi", "team": "nope"}],
        }
    )
    assert agents_cross_checks(agents_section, {"support", "billing"}) == [
        (("agents", "accounts", 0, "teams", 1), "no team 'sales'"),
        (("agents", "canned_responses", 0, "team"), "no team 'nope'"),
    ]
