"""The inbox in Debian's Chromium: log in, live queue, canned reply to SMTP, XSS, 403."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.messages import Address, InboundMessage
from tests.inbox_support import PASSWORDS, inbox_config, post_form
from tests.support import SmtpSink, hub_running, hub_url, make_config

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None,
    reason="Debian's chromium is not installed (make test installs it: scripts/system-deps.sh)",
)

XSS_HTML = (
    "<p>Hello <b>team</b></p>"
    "<script>window.__pwned = 'script'; alert('script')</script>"
    "<img src=x onerror=\"window.__pwned = 'img'; alert('img')\">"
    "<svg onload=\"window.__pwned = 'svg'\"></svg>"
    "<a href=\"javascript:window.__pwned='link'\" id=evil>click me</a>"
    "<iframe srcdoc=\"<script>parent.__pwned='frame'</script>\"></iframe>"
    "<style>body { display: none }</style>"
)


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def log_in(browser: Any, hub: Any, username: str) -> Any:
    page = await browser.new_page()
    await page.goto(hub_url(hub, "/inbox/"))  # sends us to the log-in page and back
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORDS[username])
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_selector("#tickets")
    return page


async def test_agent_answers_a_form_ticket_with_a_canned_response(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    async with hub_running(config) as hub, chromium() as browser, aiohttp.ClientSession() as http:
        page = await log_in(browser, hub, "sam")
        assert "No tickets match." in await page.inner_text("#ticket-rows")
        # The ticket arrives while the queue is open: it shows up without a reload.
        ref = await post_form(
            http, hub, name="Ann Smith", email="ann@example.com", message="My parcel is late."
        )
        link = page.get_by_role("link", name=ref)
        await link.wait_for(timeout=10_000)
        assert await page.inner_text('[data-count-for="support"]') == "1"
        await page.screenshot(path=str(tmp_path / "queue.png"))

        await link.click()
        await page.wait_for_selector("#ticket-ref")
        assert "My parcel is late." in await page.inner_text(".entries")
        await page.get_by_label("Canned response").select_option(label="Thanks, on it")
        await page.get_by_role("button", name="Preview").click()
        draft = await page.get_by_label("Message (sent over the customer's channel)").input_value()
        assert draft.startswith("Hello Ann,") and ref in draft and "Sam Support" in draft
        await page.get_by_role("button", name="Send reply").click()
        assert "Reply queued to ann@example.com" in await page.inner_text("#notice")
        await page.screenshot(path=str(tmp_path / "ticket.png"))

        mails = await smtp.wait_for(2)  # the acknowledgement, then Sam's answer
        reply = next(m for m in mails if m["Subject"].startswith("Your request"))
        assert reply["To"] == "Ann Smith <ann@example.com>"
        assert f"[#{ref}]" in reply["Subject"]
        assert (
            "thank you for writing to us about " + ref in reply.get_body(("plain",)).get_content()
        )

        # Bill works in billing: the support ticket is not his to see.
        bills = await log_in(browser, hub, "bill")
        response = await bills.goto(hub_url(hub, f"/inbox/tickets/{ref.removeprefix('T-')}"))
        assert response is not None and response.status == 403
        assert "My parcel" not in await bills.content()


async def test_hostile_customer_html_runs_nothing(tmp_path: Path, smtp: SmtpSink) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    async with hub_running(config) as hub, chromium() as browser, aiohttp.ClientSession() as http:
        result = await hub.pipeline.submit(
            InboundMessage(
                channel="webform",
                connector_id="contact",
                external_id="hostile-1",
                sender=Address("email", "eve@example.com", "Eve <script>alert(1)</script>"),
                subject="<img src=x onerror=alert('subject')>",
                text="Hello team",
                html=XSS_HTML,
            )
        )
        # The same payload typed into the form as plain text, onto the same ticket.
        await post_form(http, hub, email="eve@example.com", message=XSS_HTML)
        page = await log_in(browser, hub, "sam")
        dialogs: list[str] = []
        page.on("dialog", lambda d: dialogs.append(d.message))
        response = await page.goto(hub_url(hub, f"/inbox/tickets/{result.ticket_id}"))
        assert response is not None and response.status == 200
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        await page.locator(".body-html a", has_text="click me").click(timeout=5000)  # no href left
        await page.wait_for_timeout(300)
        assert await page.evaluate("window.__pwned") is None
        assert dialogs == []
        html_body = page.locator(".body-html").first
        assert await html_body.inner_text() != ""
        assert await page.locator(".body-html b").first.inner_text() == "team"
        inner = await html_body.inner_html()
        assert "onerror" not in inner and "<script" not in inner and "javascript:" not in inner
        # Typed as text, the payload is shown as the characters the customer typed.
        assert "<script>window.__pwned = 'script'" in await page.inner_text(".body-text >> nth=-1")
        assert await page.is_visible("#ticket-ref")  # the <style> did not hide the page
