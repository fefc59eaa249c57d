"""Log-in costs one argon2 verification whether or not the username exists, so the time a
failed log-in takes does not tell who has an account (counted, not timed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from argon2 import PasswordHasher

import hub.agents.accounts
from tests.inbox_support import PASSWORDS, inbox_config
from tests.support import SmtpSink, hub_running, hub_url, make_config


class CountingHasher(PasswordHasher):
    """A real argon2 hasher that counts its verifications."""

    def __init__(self) -> None:
        super().__init__(time_cost=2, memory_cost=19 * 1024, parallelism=1)
        self.verified: list[bool] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Any:
        try:
            ok = super().verify(hash, password)
        except Exception:
            self.verified.append(False)
            raise
        self.verified.append(bool(ok))
        return ok


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(hub.agents.accounts, "_HASHER", counting)
    return counting


@pytest.mark.parametrize(
    ("username", "password", "status"),
    [
        ("nobody", "some-password-1234", 401),  # no such agent
        ("sam", "wrong-password-1234", 401),  # a real agent, a wrong password
        ("sam", PASSWORDS["sam"], 303),
    ],
)
async def test_every_log_in_verifies_one_hash(
    tmp_path: Path,
    smtp: SmtpSink,
    hasher: CountingHasher,
    username: str,
    password: str,
    status: int,
) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(hub_url(hub, "/inbox/login")) as resp:
            found = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
        assert found is not None
        hasher.verified.clear()  # ada's config password is hashed, not verified, at start
        async with http.post(
            hub_url(hub, "/inbox/login"),
            data={"csrf_token": found.group(1), "username": username, "password": password},
            allow_redirects=False,
        ) as resp:
            assert resp.status == status, await resp.text()
    assert hasher.verified == [status == 303]
