"""The Reports page in Debian's Chromium: a team lead sees its charts (SVG with the expected
series) and the same figures as the API; an agent gets 403."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp

from hub.agents.accounts import hash_password
from tests.inbox_support import PASSWORDS
from tests.report_history import write_history
from tests.support import hub_running, hub_url, make_config
from tests.test_inbox_browser import chromium, pytestmark  # noqa: F401 (skips without chromium)
from tests.test_reports_api import ADMIN, reports_config

QUERY = "from=2026-03-01&to=2026-03-10&tz=America/New_York&bucket=day&group=agent"


async def _log_in(browser: object, hub: object, username: str, password: str) -> object:
    page = await browser.new_page()  # type: ignore[attr-defined]
    await page.goto(hub_url(hub, "/inbox/"))  # type: ignore[arg-type]
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_selector("#tickets")
    return page


async def test_a_lead_sees_the_charts_and_an_agent_gets_403(tmp_path: Path) -> None:
    data = reports_config(f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    lena_password = "lena-password-1234"
    data["agents"]["accounts"][1]["password_hash"] = hash_password(lena_password)
    async with hub_running(make_config(data)) as hub, chromium() as browser:
        await write_history(hub)
        page = await _log_in(browser, hub, "lena", lena_password)
        response = await page.goto(hub_url(hub, f"/inbox/reports?{QUERY}"))
        assert response.status == 200
        charts = page.locator("#charts svg")
        assert await charts.count() == 4
        # The time series: a line per series, named in the legend.
        tickets_chart = await charts.nth(0).inner_html()
        for name in ("created", "solved", "reopened"):
            assert f">{name}<" in tickets_chart
        assert "Tickets per day" in tickets_chart
        assert "2026-03-08" in tickets_chart and "2026-03-09" in tickets_chart
        # The lead's series: support's tickets A (2 March), C (8 March) and D (9 March);
        # pygal writes each point's value, series after series.
        values = re.findall(r'<desc class="value">([0-9.]+)</desc>', tickets_chart)
        assert [int(float(v)) for v in values[:10]] == [0, 1, 0, 0, 0, 0, 0, 1, 1, 0]
        by_agent = await charts.nth(2).inner_html()
        assert "Solved by agent" in by_agent and ">sam<" in by_agent
        # No script on the page: the charts are plain SVG.
        assert await page.locator("script:not([src])").count() == 0
        await page.screenshot(path=str(tmp_path / "reports.png"), full_page=True)

        # The page's table shows what the API says (the lead sees support only).
        async with aiohttp.ClientSession() as http:
            async with http.get(
                hub_url(hub, f"/api/v1/reports?{QUERY}&team=support"), headers=ADMIN
            ) as resp:
                api = json.loads(await resp.text())
        total = page.locator('tr[data-row="Total"]')
        for field in ("created", "solved", "replies", "first_response_median_s", "backlog"):
            cell = await total.locator(f'td[data-field="{field}"]').inner_text()
            assert cell == str(api["total"][field]), field
        sam = page.locator('tr[data-row="sam"]')
        assert (
            await sam.locator('td[data-field="first_response_median_s"]').inner_text() == "1800.0"
        )

        agent = await _log_in(browser, hub, "sam", PASSWORDS["sam"])
        refused = await agent.goto(hub_url(hub, "/inbox/reports"))
        assert refused.status == 403
        assert "team leads and admins" in await agent.inner_text("#error-message")
        assert await agent.locator("a", has_text="Reports").count() == 0
