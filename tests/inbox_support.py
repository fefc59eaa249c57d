"""Helpers for the inbox and API tests: agents in config, logging in, seeding tickets."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import aiohttp

from hub.agents.accounts import hash_password
from hub.app import Hub
from tests.support import base_config, hub_url

PASSWORDS = {"sam": "sam-password-1234", "bill": "bill-password-1234", "ada": "ada-password-1234"}
CANNED_BODY = (
    "Hello {{ customer.first_name or 'there' }},\n\n"
    "thank you for writing to us about {{ ticket.ref }}. We are on it.\n\n"
    "{{ agent.name }}\n{{ signature }}"
)


@cache
def password_hash(username: str) -> str:
    """Hashed once per test run: argon2 is slow on purpose."""
    return hash_password(PASSWORDS[username])


def inbox_config(
    storage_url: str, smtp_port: int | None = None, **overrides: Any
) -> dict[str, Any]:
    """base_config plus agents: sam (support), bill (billing), ada (admin), one canned reply."""
    data = base_config(storage_url, smtp_port, **overrides)
    data["agents"] = {
        "accounts": [
            {
                "username": "sam",
                "name": "Sam Support",
                "teams": ["support"],
                "password_hash": password_hash("sam"),
            },
            {
                "username": "bill",
                "name": "Bill Billing",
                "teams": ["billing"],
                "password_hash": password_hash("bill"),
            },
            {"username": "ada", "name": "Ada Admin", "role": "admin", "password": PASSWORDS["ada"]},
        ],
        "canned_responses": [{"name": "Thanks, on it", "body": CANNED_BODY}],
        "poll_seconds": 0.3,
        "lockout": {"max_failures_per_account": 3, "max_failures_per_ip": 6},
    }
    return data


async def post_form(http: aiohttp.ClientSession, hub: Hub, **fields: str) -> str:
    """Submit the contact form as JSON; returns the ticket ref."""
    async with http.post(hub_url(hub, "/channels/contact/"), json=fields) as resp:
        assert resp.status in (200, 201), await resp.text()
        return str((await resp.json())["ticket"])


async def login(http: aiohttp.ClientSession, hub: Hub, username: str) -> str:
    """Log in through the form; returns the session's CSRF token."""
    async with http.get(hub_url(hub, "/inbox/login")) as resp:
        page = await resp.text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    async with http.post(
        hub_url(hub, "/inbox/login"),
        data={"csrf_token": token.group(1), "username": username, "password": PASSWORDS[username]},
        allow_redirects=False,
    ) as resp:
        assert resp.status == 303, await resp.text()
    async with http.get(hub_url(hub, "/inbox/")) as resp:
        assert resp.status == 200
        found = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
    assert found is not None
    return found.group(1)
