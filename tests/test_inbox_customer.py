"""The customer 360 page: what agents see of a customer and their validated edits."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
from sqlalchemy import select

from hub.store.schema import customers, tickets
from tests.inbox_support import inbox_config, login, post_form
from tests.support import SmtpSink, hub_running, hub_url, make_config


async def test_customer_page_shows_and_edits_the_record(tmp_path: Path, smtp: SmtpSink) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        ref = await post_form(
            http, hub, name="Ann Smith", email="ann@example.com", phone="01712-345678", message="hi"
        )
        async with hub.store.read() as conn:
            customer_id = (
                await conn.execute(
                    select(tickets.c.customer_id).where(tickets.c.id == int(ref[2:]))
                )
            ).scalar_one()
        csrf = await login(http, hub, "sam")
        page_url = hub_url(hub, f"/inbox/customers/{customer_id}")
        async with http.get(page_url) as resp:
            page = await resp.text()
        assert "email: ann@example.com" in page and "phone: +8801712345678" in page
        assert f">{ref}</a>" in page

        async def save(**fields: str) -> str:
            form = {"csrf_token": csrf, "locale": "en", "timezone": "Asia/Dhaka", **fields}
            async with http.post(page_url, data=form) as resp:
                assert resp.status == 200
                return await resp.text()

        assert "unknown IANA time zone" in await save(timezone="Mars/Olympus")
        assert "between 1900-01-01 and today" in await save(birthday="2999-01-01")
        assert "country" in await save(address_country="Bangladesh")
        saved = await save(
            display_name="Ann B. Smith",
            locale="bn",
            birthday="1990-02-28",
            address_city="Dhaka",
            address_country="BD",
            tags="vip, vip, wholesale",
        )
        assert re.search(r'id="notice"[^>]*>Saved.<', saved)
        async with hub.store.read() as conn:
            row = (await conn.execute(select(customers).where(customers.c.id == customer_id))).one()
        assert (row.display_name, row.locale, str(row.birthday)) == (
            "Ann B. Smith",
            "bn",
            "1990-02-28",
        )
        assert row.address == {"city": "Dhaka", "country": "BD"}
        assert row.tags == ["vip", "wholesale"]

    # Bill works in billing: Ann has no ticket there.
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        csrf = await login(http, hub, "bill")
        async with http.get(hub_url(hub, f"/inbox/customers/{customer_id}")) as resp:
            assert resp.status == 403
        async with http.post(
            hub_url(hub, f"/inbox/customers/{customer_id}"),
            data={"csrf_token": csrf, "locale": "en", "timezone": "UTC", "display_name": "X"},
        ) as resp:
            assert resp.status == 403
