"""SLA in the inbox in Debian's Chromium: a breached ticket shows its badge, and "due
first" puts the queue in deadline order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.chat_webhooks import FakeSlackWebhook
from tests.inbox_support import inbox_config
from tests.sla_support import AUTH, with_sla
from tests.support import hub_running, make_config
from tests.test_inbox_browser import CHROMIUM, chromium, log_in
from tests.test_sla_views import four_tickets

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackWebhook]:
    fake = await FakeSlackWebhook().start()
    yield fake
    await fake.stop()


async def test_breached_badge_and_due_first_order(tmp_path: Path, slack: FakeSlackWebhook) -> None:
    config = make_config(with_sla(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db"), slack.url))
    async with (
        hub_running(config) as hub,
        aiohttp.ClientSession(headers=AUTH) as http,
        chromium() as browser,
    ):
        t = await four_tickets(hub, http)
        page = await log_in(browser, hub, "ada")
        await page.get_by_label("Order").select_option("due")
        await page.get_by_role("button", name="Filter").click()
        await page.wait_for_url("**sort=due**")
        rows = page.locator("#ticket-rows tr")
        order = [int(x) for x in await rows.evaluate_all("rs => rs.map(r => r.dataset.id)")]
        badge = page.locator(f'#ticket-rows tr[data-id="{t["late"]}"] .sla-breached')
        await badge.wait_for()
        shown = await badge.inner_text()
        soon = await page.locator(f'#ticket-rows tr[data-id="{t["soon"]}"] .sla').inner_text()
        await page.screenshot(path=str(tmp_path / "due-first.png"))
        await page.get_by_label("SLA").select_option("breached")
        await page.get_by_role("button", name="Filter").click()
        await page.wait_for_url("**sla=breached**")
        only = await page.locator("#ticket-rows tr").evaluate_all("rs => rs.map(r => r.dataset.id)")
        await page.get_by_role("link", name=f"T-{t['late']}").click()
        await page.wait_for_selector("#sla-clocks")
        clocks = await page.inner_text("#sla-clocks")
    assert order == [t["late"], t["soon"], t["later"], t["none"]]
    assert shown == "breached" and soon == "due soon"
    assert only == [str(t["late"])]
    assert "first response" in clocks and "breached" in clocks
