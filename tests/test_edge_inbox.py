"""Ids and redirect targets at the agent inbox (issue 13): ASCII digits only, and no
control characters in a Location; a 404 or the inbox, never a 500 or a dropped connection."""

from __future__ import annotations

import re

import aiohttp
import pytest
import yarl

from hub.app import Hub
from tests.inbox_support import PASSWORDS, inbox_config, login, post_form
from tests.support import hub_running, hub_url, make_config

# '²', an Arabic-Indic one, a fullwidth one: int() reads them all; none is an id.
NOT_IDS = ["%C2%B2", "%D9%A1", "%EF%BC%91"]


def _url(hub: Hub, path: str) -> yarl.URL:
    # Sent as written: the percent-escapes are the test.
    return yarl.URL(hub_url(hub, path), encoded=True)


async def test_ids_in_inbox_paths_and_queries_are_ascii_digits_only(storage_url: str) -> None:
    async with (
        hub_running(make_config(inbox_config(storage_url))) as hub,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        ref = await post_form(http, hub, email="a@example.com", message="ticket one")
        assert ref == "T-1"
        await login(http, hub, "ada")
        for raw in NOT_IDS:
            for path in (f"/inbox/tickets/{raw}", f"/inbox/customers/{raw}"):
                async with http.get(_url(hub, path)) as resp:
                    assert resp.status == 404, path
            async with http.get(_url(hub, f"/inbox/tickets/1?canned={raw}")) as resp:
                assert resp.status == 200, raw
                page = await resp.text()
            # No canned response was chosen: the draft is empty.
            assert "We are on it." not in page
        async with http.get(_url(hub, "/inbox/tickets/1?canned=1")) as resp:
            assert "We are on it." in await resp.text()


@pytest.mark.parametrize("bad", ["\r\nSet-Cookie: x=1", "\n", "\x00", "%0d%0a"])
async def test_a_login_next_with_control_characters_falls_back_to_the_inbox(
    storage_url: str, bad: str
) -> None:
    async with (
        hub_running(make_config(inbox_config(storage_url))) as hub,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        async with http.get(hub_url(hub, "/inbox/login")) as resp:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
        assert token is not None
        form = {
            "csrf_token": token.group(1),
            "username": "ada",
            "password": PASSWORDS["ada"],
            "next": f"/inbox/tickets{bad}",
        }
        async with http.post(
            hub_url(hub, "/inbox/login"), data=form, allow_redirects=False
        ) as resp:
            assert resp.status == 303
            location = resp.headers["Location"]
        assert location in ("/inbox/", "/inbox/tickets%0d%0a")
        assert "Set-Cookie: x" not in location and "\n" not in location
