"""The chat widget in a real browser (Debian's Chromium): the FAQ bot's answer and the
hand-over to a person whose API reply shows live, keyboard, markup shown as text, history
after a reload, reconnecting."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from hub.store.schema import messages, tickets
from tests.support import free_port, hub_running, hub_url
from tests.webchat_support import chat_config, queue_agent_reply

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Each would set window.__pwned and open a dialog if it ever ran.
MARKUP = [
    '<img src=x onerror="window.__pwned=1;alert(1)">',
    "<script>window.__pwned=2;alert(2)</script>",
]
AGENT = '<img src=x onerror="window.__pwned=3;alert(3)"> Your kurta ships tomorrow.'
# base_config's API token, as an agent's tool would hold it.
API_TOKEN = "test-token-0123456789"

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None,
    reason="Debian's chromium is not installed (make test installs it: scripts/system-deps.sh)",
)


async def test_faq_answer_then_a_person_whose_api_reply_appears_live(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    question, handover = "Where is my order?", "Can I talk to a person?"
    async with (
        hub_running(chat_config(tmp_path)) as hub,
        async_playwright() as p,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_TOKEN}"}) as api,
    ):
        # The shipped FAQ (config/faq.yaml) knows this one: an example of its entry.
        faq = hub.pipeline.faq
        assert faq is not None
        match = faq.match(question, "en")
        assert match.entry == "order_status"
        answer = faq.answer(match, "en")
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(locale="en-US")
            await page.goto(hub_url(hub, "/channels/chat/"))
            await page.get_by_role("button", name="Chat with us").click()
            said = page.get_by_role("log", name="Conversation").locator(".hc-out .hc-text")
            await expect(said).to_have_count(1)  # the greeting
            for text in (question, handover):
                await page.get_by_label("Your message").fill(text)
                await page.keyboard.press("Enter")
            # The bot answers from the FAQ, then hands over: a ticket, named in the chat.
            await expect(said).to_have_count(3)
            await expect(said.nth(1)).to_have_text(answer)
            async with hub.store.read() as conn:
                (ticket,) = (await conn.execute(select(tickets.c.id))).scalars().all()
                history = (
                    (
                        await conn.execute(
                            select(messages.c.body_text)
                            .where(messages.c.ticket_id == ticket)
                            .order_by(messages.c.id)
                        )
                    )
                    .scalars()
                    .all()
                )
            await expect(said.nth(2)).to_contain_text(f"T-{ticket}")

            async with api.post(
                hub_url(hub, f"/api/v1/tickets/{ticket}/reply"),
                json={"text": "Hello, I am Sam. Which order number is it?"},
            ) as resp:
                assert resp.status == 202, await resp.text()
            await expect(said).to_have_count(4)
            await expect(said.nth(3)).to_have_text("Hello, I am Sam. Which order number is it?")
        finally:
            await browser.close()
    # The agent sees what the bot already said, not only what came after the hand-over.
    assert [t for t in history if t in (question, answer, handover)] == [
        question,
        answer,
        handover,
    ]


async def test_widget_shows_markup_as_text_gets_replies_live_and_keeps_history(
    tmp_path: Path,
) -> None:
    from playwright.async_api import Dialog, async_playwright, expect

    dialogs: list[str] = []

    async def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    async with hub_running(chat_config(tmp_path)) as hub, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(locale="bn-BD")
            page.on("dialog", refuse)
            await page.goto(hub_url(hub, "/channels/chat/"))

            # Keyboard only: focus the button, Enter opens the panel and focuses the message.
            toggle = page.get_by_role("button", name="Chat with us")
            await toggle.focus()
            await page.keyboard.press("Enter")
            log = page.get_by_role("log", name="Conversation")
            assert await log.get_attribute("aria-live") == "polite"
            # The new visitor's /start is greeted by the bot, live.
            await expect(log.locator(".hc-out")).to_have_count(1)
            acknowledgement = await log.locator(".hc-out .hc-text").inner_text()
            for text in MARKUP:
                await page.keyboard.type(text)
                await page.keyboard.press("Enter")
            sent = log.locator(".hc-in:not(.hc-pending) .hc-text")
            await expect(sent).to_have_text(MARKUP)

            await page.get_by_role("button", name="Talk to a person").click()
            await expect(sent).to_have_count(3)
            cookie = next(c for c in await page.context.cookies() if c["name"] == "hubchat_chat")
            visitor = cookie["value"].split(".")[0]
            async with hub.store.read() as conn:
                rows: list[Any] = (
                    await conn.execute(
                        select(messages.c.ticket_id, messages.c.body_text, messages.c.meta)
                        .where(messages.c.direction == "in")
                        .order_by(messages.c.id)
                    )
                ).all()
            await queue_agent_reply(hub, visitor, AGENT, rows[0].ticket_id)
            await expect(log.locator(".hc-out .hc-text").last).to_have_text(AGENT)
            await page.screenshot(path=str(tmp_path / "chat-live.png"))
            await page.keyboard.press("Escape")
            await expect(toggle).to_be_focused()

            # A reload keeps the conversation; a reply while the panel is closed is counted.
            await page.reload()
            # Connected again (the history is back in the closed panel) before the reply, or
            # it would arrive as history rather than as a new message to count.
            await expect(page.locator(".hc-log .hc-text")).to_have_count(6)
            await queue_agent_reply(hub, visitor, "Anything else?", rows[0].ticket_id)
            await expect(page.locator(".hc-badge")).to_have_text("1")
            await page.get_by_role("button", name="Chat with us").click()
            history = page.get_by_role("log").locator(".hc-text")
            await expect(history).to_have_text(
                [
                    acknowledgement,
                    MARKUP[0],
                    # The FAQ does not know it: the bot hands over and names the ticket.
                    re.compile(r"T-\d+"),
                    MARKUP[1],
                    "I would like to talk to a person.",
                    AGENT,
                    "Anything else?",
                ]
            )
            assert await page.locator(".hc-log img, .hc-log script").count() == 0
            pwned = await page.evaluate("window.__pwned")
        finally:
            await browser.close()

    assert dialogs == [] and pwned is None
    assert [(r.body_text, r.meta) for r in rows] == [
        ("/start", {"command": "start"}),
        (MARKUP[0], {}),
        (MARKUP[1], {}),
        ("I would like to talk to a person.", {"command": "human"}),
    ]


async def test_widget_reconnects_after_a_hub_restart_and_sends_what_was_typed_meanwhile(
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright, expect

    config = chat_config(tmp_path, port=free_port())
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            async with hub_running(config) as hub:
                await page.goto(hub_url(hub, "/channels/chat/"))
                await page.get_by_role("button", name="Chat with us").click()
                log = page.get_by_role("log")
                await expect(log.locator(".hc-out")).to_have_count(1)
            # The hub is down: the widget says so and keeps what the visitor types.
            status = page.locator(".hc-status")
            await expect(status).to_have_text("Connection lost. Reconnecting…")
            await page.get_by_label("Your message").fill("Are you still there?")
            await page.keyboard.press("Enter")
            await expect(log.locator(".hc-pending")).to_have_count(1)
            async with hub_running(config) as hub:
                # Backoff: the widget tries again (within seconds) and sends it once.
                await expect(log.locator(".hc-pending")).to_have_count(0, timeout=15_000)
                await expect(status).to_be_empty()
                async with hub.store.read() as conn:
                    texts = (
                        (
                            await conn.execute(
                                select(messages.c.body_text).where(messages.c.direction == "in")
                            )
                        )
                        .scalars()
                        .all()
                    )
        finally:
            await browser.close()
    assert texts == ["/start", "Are you still there?"]
