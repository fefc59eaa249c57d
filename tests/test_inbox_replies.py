"""Replies, notes and status changes through the API: the outbox, the open key, the channel."""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlalchemy import select

from hub.store.schema import tickets
from tests.inbox_support import inbox_config, post_form
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
