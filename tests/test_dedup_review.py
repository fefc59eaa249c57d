"""The duplicate review queue in the inbox: in Debian's Chromium (merge, "not the same
person", undo), and its guards (roles, CSRF) over plain HTTP."""

from __future__ import annotations

import shutil
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from hub.dedup.sweep import sweep
from hub.store.schema import duplicate_suggestions
from tests.inbox_support import inbox_config, login
from tests.support import hub_running, hub_url, make_config
from tests.test_dedup_sweep import _seed
from tests.test_inbox_browser import CHROMIUM, chromium, log_in

needs_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed"
)


async def _status(hub: object, a: int, b: int) -> str:
    async with hub.store.read() as conn:  # type: ignore[attr-defined]
        return str(
            (
                await conn.execute(
                    select(duplicate_suggestions.c.status).where(
                        duplicate_suggestions.c.customer_id == a,
                        duplicate_suggestions.c.other_customer_id == b,
                    )
                )
            ).scalar_one()
        )


@needs_chromium
async def test_reviewer_merges_undoes_and_keeps_people_apart(tmp_path: Path) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db"))
    async with hub_running(config) as hub, chromium() as browser:
        rahim, udin, _, fatema, begum, *_ = await _seed(hub.store)
        await sweep(hub.store, config.duplicates)
        page = await log_in(browser, hub, "ada")
        await page.goto(hub_url(hub, "/inbox/duplicates"))
        pair = page.locator(f'section[data-left="{rahim}"][data-right="{udin}"]')
        # Side by side, with the score and the reasons.
        text = await pair.inner_text()
        assert "Rahim Uddin" in text and "Rahim Udin" in text and "same birthday" in text
        assert "rahim.uddin@gmail.com" in text and "+8801711234567" in text
        # The name written in Bengali script is matched too, and says so.
        main = await page.inner_text("main")
        assert "রহিম উদ্দিন" in main and "compared from Bengali script" in main
        await page.screenshot(path=str(tmp_path / "duplicates.png"), full_page=True)

        # "Not the same person": the pair leaves the queue, and a new sweep keeps it out.
        await pair.get_by_role("button", name="Not the same person").click()
        await page.wait_for_selector("p.notice")
        assert await pair.count() == 0
        await sweep(hub.store, config.duplicates)
        await page.reload()
        assert await page.locator(f'section[data-left="{rahim}"][data-right="{udin}"]').count() == 0
        assert await _status(hub, rahim, udin) == "distinct"

        # Merge the Gmail pair, keeping the older record; then undo it from its page.
        gmail = page.locator(f'section[data-left="{fatema}"][data-right="{begum}"]')
        await gmail.get_by_role("button", name=f"Keep #{fatema}, merge the other into it").click()
        await page.wait_for_url(f"**/inbox/customers/{fatema}*")
        assert f"Customer {begum} was merged into this one." in await page.inner_text("main")
        assert await _status(hub, fatema, begum) == "merged"
        await page.get_by_role("button", name="Undo").click()
        await page.wait_for_selector("text=is separate again")
        # Undone, the pair is open for review again.
        assert await _status(hub, fatema, begum) == "open"
        await page.goto(hub_url(hub, "/inbox/duplicates"))
        assert await page.locator(f'section[data-left="{fatema}"][data-right="{begum}"]').count()
        await page.close()


async def test_review_actions_need_the_customers_a_csrf_token_or_an_api_token(
    tmp_path: Path,
) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db"))
    async with hub_running(config) as hub:
        rahim, udin, *_ = await _seed(hub.store)
        await sweep(hub.store, config.duplicates)
        async with hub.store.read() as conn:
            pair_id = (
                await conn.execute(
                    select(duplicate_suggestions.c.id).where(
                        duplicate_suggestions.c.customer_id == rahim,
                        duplicate_suggestions.c.other_customer_id == udin,
                    )
                )
            ).scalar_one()
        url = hub_url(hub, f"/inbox/duplicates/{pair_id}/distinct")
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            csrf = await login(http, hub, "sam")
            # Sam's teams have no ticket of these customers: not his to judge, nor to see.
            async with http.get(hub_url(hub, "/inbox/duplicates")) as resp:
                assert "Rahim" not in await resp.text()
            async with http.post(url, data={"csrf_token": csrf}) as resp:
                assert resp.status == 403
            assert await _status(hub, rahim, udin) == "open"
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            csrf = await login(http, hub, "ada")
            async with http.post(url, data={}, allow_redirects=False) as resp:
                assert resp.status == 403  # no CSRF token
            assert await _status(hub, rahim, udin) == "open"
            async with http.post(url, data={"csrf_token": csrf}, allow_redirects=False) as resp:
                assert resp.status == 303
            assert await _status(hub, rahim, udin) == "distinct"

        # The API: scored pairs, and "not the same person" once (then 409), 404 for none.
        auth = {"Authorization": "Bearer test-token-0123456789"}
        async with aiohttp.ClientSession(headers=auth) as http:
            async with http.get(hub_url(hub, "/api/v1/duplicates")) as resp:
                listed = (await resp.json())["duplicates"]
            assert pair_id not in [d["id"] for d in listed]  # decided in the inbox above
            pair = next(d for d in listed if d["customer_id"] == udin)
            assert 0.5 <= pair["score"] <= 1 and "same birthday" in pair["reasons"]
            api = hub_url(hub, f"/api/v1/duplicates/{pair['id']}/distinct")
            async with http.post(api) as resp:
                assert resp.status == 200 and (await resp.json())["status"] == "distinct"
            async with http.post(api) as resp:
                assert resp.status == 409  # decided once, for good
            async with http.post(hub_url(hub, "/api/v1/duplicates/999999/distinct")) as resp:
                assert resp.status == 404
