"""End to end: an agent goes online in the inbox (CSRF-checked form) or the API, web form
messages open tickets that are assigned to them, and the ticket shows who has it."""

from __future__ import annotations

import re

import aiohttp
from sqlalchemy import select

from hub.agents.auth import create_api_token
from hub.store.schema import outgoing_events
from tests.inbox_support import inbox_config, login, post_form
from tests.support import hub_running, hub_url, make_config

TOKEN = "test-token-0123456789"  # the integration token of base_config


def _config(url: str) -> dict:
    data = inbox_config(url, replies={"acknowledge_new_tickets": False})
    data["teams"][0].update(assign="round_robin", reassign_after="10m")
    return data


async def _availability_shown(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as resp:
        page = await resp.text()
    found = re.search(r"<option selected>(online|away|off)</option>", page)
    assert found is not None, "the header has no availability control"
    return found.group(1)


async def test_an_agent_online_in_the_inbox_gets_form_tickets(tmp_path: str) -> None:
    config = make_config(_config(f"sqlite+aiosqlite:///{tmp_path}/h.db"))
    jar = aiohttp.CookieJar(unsafe=True)  # the session cookie, on 127.0.0.1
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        # Nobody online: the ticket waits.
        waiting = await post_form(http, hub, name="Ann", email="ann@example.com", message="Hi")
        csrf = await login(http, hub, "sam")
        assert await _availability_shown(http, hub_url(hub, "/inbox/")) == "off"
        # The control without the session's CSRF token is refused.
        async with http.post(
            hub_url(hub, "/inbox/availability"),
            data={"availability": "online"},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 403
        async with http.post(
            hub_url(hub, "/inbox/availability"),
            data={"csrf_token": csrf, "availability": "busy"},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 400
        async with http.post(
            hub_url(hub, "/inbox/availability"),
            data={"csrf_token": csrf, "availability": "online", "next": "https://evil.test/"},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303
            assert resp.headers["Location"] == "/inbox/"  # never off-site
        assert await _availability_shown(http, hub_url(hub, "/inbox/")) == "online"
        # Going online ran a round: the waiting ticket is sam's already.
        async with http.get(hub_url(hub, "/inbox/?assignee=me")) as resp:
            assert waiting in await resp.text()
        ref = await post_form(http, hub, name="Bob", email="bob@example.com", message="Hello")
        ticket_id = int(ref.removeprefix("T-"))
        # Assigned as it opened.
        async with http.get(hub_url(hub, f"/inbox/tickets/{ticket_id}")) as resp:
            page = await resp.text()
        assert re.search(r"<option selected>sam</option>", page)
        assert re.search(r"<li>sam \(opened\) \d{4}-\d\d-\d\d \d\d:\d\d UTC</li>", page)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for r in (ref, waiting):
            url = hub_url(hub, f"/api/v1/tickets/{int(r.removeprefix('T-'))}")
            async with http.get(url, headers=headers) as resp:
                body = await resp.json()
            assert body["assignee"] == "sam"
            assert [(a["assignee"], a["reason"]) for a in body["assignments"]] == [
                ("sam", "opened" if r == ref else "waiting")
            ]


async def test_availability_over_the_api_is_the_agents_own(tmp_path: str) -> None:
    config = make_config(_config(f"sqlite+aiosqlite:///{tmp_path}/h.db"))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        async with hub.store.write() as conn:
            token = await create_api_token(conn, "sam", "tests")
        mine = hub_url(hub, "/api/v1/me/availability")
        agent = {"Authorization": f"Bearer {token}"}
        async with http.get(mine, headers=agent) as resp:
            assert (resp.status, await resp.json()) == (200, {"availability": "off", "since": None})
        async with http.put(mine, headers=agent, json={"availability": "away"}) as resp:
            body = await resp.json()
            assert resp.status == 200 and body["availability"] == "away" and body["since"]
        async with http.put(mine, headers=agent, json={"availability": "lunch"}) as resp:
            assert resp.status == 422
        # An integration token acts for the hub, not as an agent: it has no availability.
        integration = {"Authorization": f"Bearer {TOKEN}"}
        async with http.put(mine, headers=integration, json={"availability": "online"}) as resp:
            assert resp.status == 403
        async with http.get(mine) as resp:
            assert resp.status == 401


async def test_a_persons_pick_joins_the_assignment_history(tmp_path: str) -> None:
    config = make_config(_config(f"sqlite+aiosqlite:///{tmp_path}/h.db"))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        ref = await post_form(http, hub, name="Ann", email="ann@example.com", message="Hi")
        url = hub_url(hub, f"/api/v1/tickets/{int(ref.removeprefix('T-'))}")
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with http.patch(url, headers=headers, json={"assignee": "sam"}) as resp:
            assert resp.status == 200, await resp.text()
        async with http.get(url, headers=headers) as resp:
            body = await resp.json()
        assert [(a["assignee"], a["previous"], a["reason"]) for a in body["assignments"]] == [
            ("sam", None, "manual")
        ]
        async with hub.store.read() as conn:
            events = (
                await conn.execute(
                    select(outgoing_events.c.data).where(
                        outgoing_events.c.type == "ticket.assigned"
                    )
                )
            ).all()
        assert [(e.data["assignee"], e.data["automatic"]) for e in events] == [("sam", False)]
