"""Replies, notes and status changes through the API: the outbox, the open key, the channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import select

from hub.store.schema import tickets
from tests.inbox_support import inbox_config, login, post_form
from tests.support import SmtpSink, hub_running, hub_url, make_config

AUTH = {"Authorization": "Bearer test-token-0123456789"}


async def test_replies_notes_and_reopening(storage_url: str, smtp: SmtpSink) -> None:
    config = make_config(inbox_config(storage_url, smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:

        async def call(method: str, path: str, **kw: Any) -> tuple[int, Any]:
            async with http.request(method, hub_url(hub, "/api/v1" + path), **kw) as resp:
                body = await resp.json() if resp.status != 204 else None
                return resp.status, body

        ref = await post_form(http, hub, name="Ann Smith", email="ann@example.com", message="Hi")
        tid = int(ref[2:])
        status, preview = await call("GET", f"/tickets/{tid}/canned-responses/1/preview")
        assert status == 200 and preview["text"].startswith("Hello Ann,")
        status, sent = await call("POST", f"/tickets/{tid}/reply", json={"canned_response_id": 1})
        assert status == 202 and sent["text"] == preview["text"]
        assert (sent["connector_id"], sent["recipient"]) == ("mail", "ann@example.com")
        # A web form cannot carry a reply; an agent may pick the mail connector explicitly.
        status, refused = await call(
            "POST", f"/tickets/{tid}/reply", json={"text": "x", "connector_id": "contact"}
        )
        assert status == 409 and "can carry a reply" in refused["error"]
        status, _ = await call(
            "POST", f"/tickets/{tid}/reply", json={"text": "Solved it.", "status": "solved"}
        )
        assert status == 202
        status, _ = await call("POST", f"/tickets/{tid}/notes", json={"text": "Called her too."})
        assert status == 201
        mails = await smtp.wait_for(3)
        assert [m["Subject"] for m in mails[1:]] == [f"Your request [#{ref}]"] * 2
        assert "Solved it." in mails[2].get_body(("plain",)).get_content()

        status, ticket = await call("GET", f"/tickets/{tid}")
        assert ticket["status"] == "solved"
        assert [m["direction"] for m in ticket["messages"]] == ["in", "out", "out", "out"]
        assert [n["body_text"] for n in ticket["notes"]] == ["Called her too."]
        assert [n["author"] for n in ticket["notes"]] == ["tests"]

        # Solved, the ticket no longer holds the open key: Ann's next message opens a new one.
        again = await post_form(http, hub, email="ann@example.com", message="One more thing")
        assert again != ref
        status, clash = await call("PATCH", f"/tickets/{tid}", json={"status": "open"})
        assert status == 409 and again in clash["error"]
        status, _ = await call("PATCH", f"/tickets/{int(again[2:])}", json={"status": "closed"})
        assert status == 200
        status, reopened = await call("PATCH", f"/tickets/{tid}", json={"status": "open"})
        assert status == 200 and reopened["status"] == "open"
        async with hub.store.read() as conn:
            keys = dict((await conn.execute(select(tickets.c.id, tickets.c.open_key))).all())
        assert keys[tid] is not None and keys[int(again[2:])] is None
        # The ticket page lists the customer's other tickets.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent:
            await login(agent, hub, "sam")
            async with agent.get(hub_url(hub, f"/inbox/tickets/{tid}")) as resp:
                page = await resp.text()
        assert f'<a href="/inbox/tickets/{again[2:]}">{again}</a>' in page


async def test_send_later_waits_and_can_be_cancelled(tmp_path: Path, smtp: SmtpSink) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        ref = await post_form(http, hub, name="Ann", email="ann@example.com", message="Hi")
        tid = int(ref[2:])
        await smtp.wait_for(1)  # the acknowledgement
        csrf = await login(http, hub, "sam")
        # Tomorrow 09:30 in the customer's zone (the config's Asia/Dhaka, UTC+6).
        local = (datetime.now(ZoneInfo("Asia/Dhaka")) + timedelta(days=1)).replace(
            hour=9, minute=30, second=0, microsecond=0
        )
        async with http.post(
            hub_url(hub, f"/inbox/tickets/{tid}/reply"),
            data={
                "csrf_token": csrf,
                "text": "Good morning!",
                "send_at": local.strftime("%Y-%m-%dT%H:%M"),
            },
        ) as resp:
            page = await resp.text()
        utc = local.astimezone(UTC)
        assert f"scheduled for {utc.isoformat()}" in page
        assert (
            f"Scheduled for {utc:%Y-%m-%d %H:%M} UTC ({local:%Y-%m-%d %H:%M} in Asia/Dhaka" in page
        )
        # Sent now, it would come before this reply, queued after it: the outbox sends what
        # is due in order, so when this one arrives, the scheduled one has not been sent.
        now_reply = await http.post(
            hub_url(hub, "/api/v1/tickets/" + str(tid) + "/reply"),
            json={"text": "Right away."},
            headers=AUTH,
        )
        assert now_reply.status == 202
        mails = await smtp.wait_for(2)
        assert len(mails) == 2 and "Right away." in mails[1].get_body(("plain",)).get_content()

        async with http.get(hub_url(hub, f"/api/v1/tickets/{tid}"), headers=AUTH) as resp:
            later = next(m for m in (await resp.json())["messages"] if m["send_at"])
        assert later["delivery"] == "pending" and later["body_text"] == "Good morning!"
        cancel = hub_url(hub, f"/inbox/tickets/{tid}/cancel/{later['id']}")
        async with http.post(cancel, data={"csrf_token": csrf}) as resp:
            assert "The scheduled reply was cancelled." in await resp.text()
        async with http.delete(
            hub_url(hub, f"/api/v1/tickets/{tid}/scheduled/{later['id']}"), headers=AUTH
        ) as resp:
            assert resp.status == 409  # already cancelled
        async with http.get(hub_url(hub, f"/api/v1/tickets/{tid}"), headers=AUTH) as resp:
            states = [m["delivery"] for m in (await resp.json())["messages"]]
        assert sorted(states, key=str) == [None, "cancelled", "sent", "sent"]
        # A time in the past is refused, not sent at once.
        async with http.post(
            hub_url(hub, "/api/v1/tickets/" + str(tid) + "/reply"),
            json={"text": "x", "send_at": "2001-01-01T00:00:00Z"},
            headers=AUTH,
        ) as resp:
            assert resp.status == 422
