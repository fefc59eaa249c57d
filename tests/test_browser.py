"""A person submits the contact form in a real browser (Debian's Chromium) and sees a ticket."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.store.schema import tickets
from tests.support import SmtpSink, base_config, hub_running, hub_url, make_config

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

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None,
    reason="Debian's chromium is not installed (make test installs it: scripts/system-deps.sh)",
)


async def test_person_submits_form_and_sees_ticket_number(tmp_path: Path, smtp: SmtpSink) -> None:
    from playwright.async_api import async_playwright

    config = make_config(base_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    async with hub_running(config) as hub, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            await page.goto(hub_url(hub, "/channels/contact/"))
            # First a mistake: no way to answer. The form says so next to the field.
            await page.get_by_label("Message").fill("My parcel is late.")
            await page.get_by_role("button", name="Send").click()
            await page.wait_for_selector("#error-summary")
            assert "email address or a phone number" in await page.inner_text("#e-email")
            await page.screenshot(path=str(tmp_path / "form-error.png"))

            # The message typed so far is kept; now add an email and send.
            assert await page.get_by_label("Message").input_value() == "My parcel is late."
            await page.get_by_label("Your name").fill("Ann Smith")
            await page.get_by_label("Email address").fill("Ann@Example.com")
            await page.get_by_label("Language for our answer").select_option("bn")
            await page.get_by_role("button", name="Send").click()
            number = await page.inner_text("#ticket-number")
            await page.screenshot(path=str(tmp_path / "form-done.png"))
            shutil.copy(tmp_path / "form-error.png", "/tmp/form-error.png") if False else None

            # Reload-resubmit of the same form makes no second ticket.
            await page.go_back()
            await page.get_by_role("button", name="Send").click()
            again = await page.inner_text("#ticket-number")
        finally:
            await browser.close()
        mails = await smtp.wait_for(1)
        async with hub.store.read() as conn:
            rows: list[Any] = (await conn.execute(select(tickets.c.id))).all()
    assert number.startswith("T-")
    assert again == number
    assert [f"T-{r.id}" for r in rows] == [number]
    assert f"[#{number}]" in mails[0]["Subject"]
    assert "ধন্যবাদ" in mails[0].get_body(("plain",)).get_content()
