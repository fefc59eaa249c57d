"""CSAT surveys on WhatsApp, Messenger and Instagram against the fake Graph API: five ratings
as an interactive list (reply buttons take at most three), a list_reply or quick reply recorded
on the survey and not as a customer message; outside WhatsApp's 24-hour window, the approved
template with the survey link, or none and a note on the ticket."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update

from hub.store.schema import messages, outbox, ticket_notes
from tests.meta_harness import IG_ID, PAGE_ID, Rig, fake_graph, meta_hub, wa_text
from tests.support import hub_url
from tests.survey_support import (
    API_AUTH,
    SURVEYS_ON,
    answers,
    inbound_count,
    reply_and_solve,
    table,
    the_survey,
    the_ticket,
)
from tests.telegram_harness import eventually

WA_ID = "8801712345678"
PSID = "6011234567890123"


def wa_interactive(wamid: str, kind: str, reply_id: str, title: str) -> dict[str, Any]:
    """A tap on a reply button (button_reply) or a list row (list_reply), as Meta sends it."""
    body = wa_text(wamid, "", WA_ID)
    msg = body["entry"][0]["changes"][0]["value"]["messages"][0]
    del msg["text"]
    msg.update(
        type="interactive",
        context={"from": "15550783881", "id": "wamid.SURVEY"},
        interactive={"type": kind, kind: {"id": reply_id, "title": title}},
    )
    return body


def messenger_quick_reply(
    mid: str, text: str, payload: str, product: str = "messenger"
) -> dict[str, Any]:
    """A Messenger (or Instagram) message that taps a quick reply, as Meta sends it."""
    now = int(time.time() * 1000)
    account = PAGE_ID if product == "messenger" else IG_ID
    return {
        "object": "page" if product == "messenger" else "instagram",
        "entry": [
            {
                "id": account,
                "time": now,
                "messaging": [
                    {
                        "sender": {"id": PSID},
                        "recipient": {"id": account},
                        "timestamp": now,
                        "message": {"mid": mid, "text": text, "quick_reply": {"payload": payload}},
                    }
                ],
            }
        ],
    }


async def survey_call(rig: Rig, kind: str) -> Any:
    def found() -> bool:
        return any(kind in str(c.json) for c in rig.api.sent())

    await eventually(found, what=f"the survey sent as {kind}")
    return next(c for c in rig.api.sent() if kind in str(c.json))


async def test_whatsapp_survey_is_a_list_and_a_list_reply_records_the_rating(
    tmp_path: Path,
) -> None:
    # SQLite only: the answer's path is the same on both dialects (test_surveys_email).
    async with (
        fake_graph(("whatsapp",)) as api,
        meta_hub(
            f"sqlite+aiosqlite:///{tmp_path}/h.db", api, "whatsapp", sections=SURVEYS_ON
        ) as rig,
    ):
        status, _ = await rig.post(wa_text("wamid.IN1", "The blender arrived broken", WA_ID))
        assert status == 200
        ticket = await the_ticket(rig.hub)
        await reply_and_solve(rig.hub, ticket.id)
        call = await survey_call(rig, "interactive")
        inter = call.json["interactive"]
        # Five choices: a list (reply buttons stop at three), every row id a signed payload.
        assert inter["type"] == "list"
        rows = inter["action"]["sections"][0]["rows"]
        assert [r["title"] for r in rows] == ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"]
        before = await inbound_count(rig.hub)

        status, _ = await rig.post(wa_interactive("wamid.TAP1", "list_reply", rows[4]["id"], "5 ★"))
        assert status == 200
        survey = await the_survey(rig.hub)
        assert await answers(rig.hub) == [(survey.id, 5, "button")]
        assert await inbound_count(rig.hub) == before
        assert (await the_ticket(rig.hub)).status == "solved"

        # The same tap delivered as a reply button (a client with three options) works alike.
        status, _ = await rig.post(
            wa_interactive("wamid.TAP2", "button_reply", rows[2]["id"], "3 ★")
        )
        assert await answers(rig.hub) == [(survey.id, 3, "button")]


async def age_inbound(rig: Rig, hours: float) -> None:
    """The customer's messages, as if they were sent `hours` earlier."""
    async with rig.hub.store.write() as conn:
        for m in await table(rig.hub, messages):
            if m.direction == "in":
                earlier = m.received_at - timedelta(hours=hours)
                await conn.execute(
                    update(messages).where(messages.c.id == m.id).values(received_at=earlier)
                )


async def test_whatsapp_outside_the_window_sends_the_approved_template_or_notes_the_skip(
    tmp_path: Path,
) -> None:
    template = {"name": "csat_link", "language": "en_US"}
    with_template = {"surveys": {**SURVEYS_ON["surveys"], "whatsapp_templates": {"en": template}}}
    url = f"sqlite+aiosqlite:///{tmp_path}/h.db"
    async with fake_graph(("whatsapp",)) as api, meta_hub(url, api, sections=with_template) as rig:
        await rig.post(wa_text("wamid.IN2", "Where is my refund?", WA_ID))
        ticket = await the_ticket(rig.hub)
        await age_inbound(rig, 30)
        await solve_by_patch(rig, ticket.id)
        call = await survey_call(rig, "template")
        tpl = call.json["template"]
        assert tpl["name"] == "csat_link"
        (param,) = tpl["components"][0]["parameters"]
        assert "/survey/" in param["text"]

    url_no_template = f"sqlite+aiosqlite:///{tmp_path}/h3.db"
    async with (
        fake_graph(("whatsapp",)) as api,
        meta_hub(url_no_template, api, sections=SURVEYS_ON) as rig,
    ):
        await rig.post(wa_text("wamid.IN3", "Where is my refund?", WA_ID))
        ticket = await the_ticket(rig.hub)
        await age_inbound(rig, 30)
        await solve_by_patch(rig, ticket.id)
        survey = await the_survey(rig.hub)
        assert survey.status == "skipped" and survey.outbox_id is None
        (note,) = await table(rig.hub, ticket_notes)
        assert "24 hours" in note.body_text and note.ticket_id == ticket.id
        assert not [r for r in await table(rig.hub, outbox) if r.kind == "csat_survey"]
        async with (
            aiohttp.ClientSession(headers=API_AUTH) as http,
            http.get(hub_url(rig.hub, f"/api/v1/tickets/{ticket.id}")) as resp,
        ):
            (shown,) = (await resp.json())["surveys"]
        assert shown["status"] == "skipped" and "24 hours" in shown["note"]
        assert shown["rating"] is None and shown["channel"] == "whatsapp"


async def solve_by_patch(rig: Rig, ticket_id: int) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.patch(
            hub_url(rig.hub, f"/api/v1/tickets/{ticket_id}"),
            json={"status": "solved"},
            headers=API_AUTH,
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()


@pytest.mark.parametrize("product", ["messenger", "instagram"])
async def test_messenger_survey_has_quick_replies_and_a_tap_records_the_rating(
    tmp_path: Path, product: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/h.db"
    async with (
        fake_graph((product,)) as api,
        meta_hub(url, api, product, sections=SURVEYS_ON) as rig,
    ):
        status, _ = await rig.post(messenger_quick_reply_free("m_1", "My order is late", product))
        assert status == 200
        ticket = await the_ticket(rig.hub)
        await reply_and_solve(rig.hub, ticket.id)
        call = await survey_call(rig, "quick_replies")
        replies = call.json["message"]["quick_replies"]
        assert [q["title"] for q in replies] == ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"]
        before = await inbound_count(rig.hub)
        status, _ = await rig.post(
            messenger_quick_reply("m_2", "4 ★", replies[3]["payload"], product)
        )
        assert status == 200
        survey = await the_survey(rig.hub)
        assert await answers(rig.hub) == [(survey.id, 4, "button")]
        assert await inbound_count(rig.hub) == before
        assert (await the_ticket(rig.hub)).status == "solved"


def messenger_quick_reply_free(mid: str, text: str, product: str) -> dict[str, Any]:
    body = messenger_quick_reply(mid, text, "x", product)
    del body["entry"][0]["messaging"][0]["message"]["quick_reply"]
    return body
