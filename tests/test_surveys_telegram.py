"""A CSAT survey on Telegram against the fake Bot API: an inline keyboard with signed
callback data, a press recorded on the survey (not a message: the solved ticket stays
solved), the callback_query answered; a forged press records nothing."""

from __future__ import annotations

import pytest

from hub.store.schema import outgoing_events
from tests import telegram_harness
from tests.survey_support import (
    SURVEYS_ON,
    answers,
    inbound_count,
    reply_and_solve,
    table,
    the_survey,
    the_ticket,
)
from tests.telegram_harness import eventually, telegram_hub

sqlite_url = telegram_harness.sqlite_url

pytestmark = [
    pytest.mark.filterwarnings("ignore:Please use 'Bot.getUpdates':UserWarning"),
    pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning"),
]

RAHIM = {"id": 555, "first_name": "Rahim", "language_code": "bn"}


def text_update(update_id: int, text: str) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1700000000,
            "from": {"is_bot": False, **RAHIM},
            "chat": {"id": 555, "type": "private", "first_name": "Rahim"},
            "text": text,
        },
    }


@pytest.mark.parametrize("mode", ["webhook", "polling"])
async def test_telegram_survey_is_an_inline_keyboard_and_a_press_records_the_rating(
    sqlite_url: str, mode: str
) -> None:
    async with telegram_hub(sqlite_url, mode, extra_config=SURVEYS_ON) as rig:
        await rig.deliver(text_update(1, "/human my parcel is late"))
        ticket = await the_ticket(rig.hub)
        await reply_and_solve(rig.hub, ticket.id)

        def survey_sent() -> bool:
            return any("reply_markup" in c.params for c in rig.api.sent("sendMessage"))

        await eventually(survey_sent, what="the survey with its keyboard")
        call = next(c for c in rig.api.sent("sendMessage") if "reply_markup" in c.params)
        # In Rahim's language (Telegram said bn), with five buttons in one row.
        assert "সন্তুষ্ট" in call.params["text"] and "/survey/" not in call.params["text"]
        (row,) = call.params["reply_markup"]["inline_keyboard"]
        assert [b["text"] for b in row] == ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"]
        assert all(len(b["callback_data"].encode()) <= 64 for b in row)
        before = await inbound_count(rig.hub)

        assert await rig.deliver(rig.api.press(call, row[3]["callback_data"], RAHIM, 2)) == 200
        survey = await the_survey(rig.hub)
        assert await answers(rig.hub) == [(survey.id, 4, "button")]
        # Not a message from the customer: nothing stored, the ticket stays solved.
        assert await inbound_count(rig.hub) == before
        assert (await the_ticket(rig.hub)).status == "solved"
        await eventually(lambda: len(rig.api.answered) == 1, what="answerCallbackQuery")

        # Telegram redelivers the same update (a webhook retry): nothing new is told.
        events = [e for e in await table(rig.hub, outgoing_events) if e.type == "csat.answered"]
        await rig.deliver(rig.api.press(call, row[3]["callback_data"], RAHIM, 2))
        again = [e for e in await table(rig.hub, outgoing_events) if e.type == "csat.answered"]
        assert len(events) == len(again) == 1

        # A changed mind within the window: the same survey, the new rating.
        await rig.deliver(rig.api.press(call, row[1]["callback_data"], RAHIM, 3))
        assert await answers(rig.hub) == [(survey.id, 2, "button")]

        # A forged press (another rating under the 4's signature) records nothing.
        forged = row[3]["callback_data"].replace(".4.", ".5.")
        assert await rig.deliver(rig.api.press(call, forged, RAHIM, 4)) == 200
        assert await answers(rig.hub) == [(survey.id, 2, "button")]
        assert await inbound_count(rig.hub) == before
