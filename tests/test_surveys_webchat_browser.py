"""A CSAT survey in the chat widget, in a real browser (Debian's Chromium): the question
with five buttons under it; a click records the rating (a second changes it), with no
message bubble, no new customer message, and the solved ticket left solved; after a reload
the buttons are back from the history."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import base_config, hub_running, hub_url, make_config
from tests.survey_support import (
    SURVEYS_ON,
    answers,
    inbound_count,
    reply_and_solve,
    the_survey,
    the_ticket,
)
from tests.telegram_harness import eventually
from tests.test_webchat_browser import ARGS, CHROMIUM
from tests.webchat_support import ORIGIN

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None,
    reason="Debian's chromium is not installed (make test installs it: scripts/system-deps.sh)",
)


async def test_webchat_survey_buttons_record_and_change_the_rating(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    data = base_config(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", **SURVEYS_ON)
    data["connectors"] = [{"id": "chat", "type": "webchat", "allowed_origins": [ORIGIN]}]
    async with hub_running(make_config(data)) as hub, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(locale="en-US")
            await page.goto(hub_url(hub, "/channels/chat/"))
            await page.get_by_role("button", name="Chat with us").click()
            log = page.get_by_role("log", name="Conversation")
            await expect(log.locator(".hc-out")).to_have_count(1)  # the greeting
            await page.get_by_role("button", name="Talk to a person").click()
            await expect(log.locator(".hc-out")).to_have_count(2)  # the hand-over
            ticket = await the_ticket(hub)
            await reply_and_solve(hub, ticket.id, "Your kurta ships tomorrow.")

            question = log.locator(".hc-out").filter(has_text="How satisfied")
            await expect(question).to_have_count(1)
            buttons = question.get_by_role("button")
            await expect(buttons).to_have_text(["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"])
            bubbles = await log.locator(".hc-msg").count()
            before = await inbound_count(hub)

            await buttons.nth(3).click()
            await expect(buttons.nth(3)).to_have_attribute("aria-pressed", "true")
            survey = await the_survey(hub)

            async def rated(rating: int) -> bool:
                return await answers(hub) == [(survey.id, rating, "button")]

            await eventually(lambda: rated(4), what="the rating 4 recorded")
            await buttons.nth(4).click()
            await eventually(lambda: rated(5), what="the rating changed to 5")
            await expect(buttons.nth(3)).to_have_attribute("aria-pressed", "false")
            # A press is no message: no bubble, nothing stored, the ticket stays solved.
            assert await log.locator(".hc-msg").count() == bubbles
            assert await inbound_count(hub) == before
            assert (await the_ticket(hub)).status == "solved"
            await page.screenshot(path=str(tmp_path / "survey-in-chat.png"))

            # After a reload the question comes from the history, its buttons with it.
            await page.reload()
            await page.get_by_role("button", name="Chat with us").click()
            await expect(question.get_by_role("button")).to_have_count(5)
            await question.get_by_role("button").nth(0).click()
            await eventually(lambda: rated(1), what="the rating changed to 1 after a reload")
        finally:
            await browser.close()
