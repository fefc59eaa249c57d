"""Merging two customers moves everything; undoing puts back every row exactly."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
from sqlalchemy import select

from hub.agents.auth import create_api_token
from hub.store.schema import (
    campaign_sends,
    consents,
    customer_merges,
    customers,
    duplicate_suggestions,
    greeting_sends,
    identities,
    messages,
    outbox,
    purchases,
    tickets,
)
from tests.inbox_support import inbox_config, login, post_form
from tests.support import SmtpSink, hub_running, hub_url, make_config

AUTH = {"Authorization": "Bearer test-token-0123456789"}
TABLES = (
    customers,
    identities,
    tickets,
    messages,
    purchases,
    consents,
    outbox,
    greeting_sends,
    campaign_sends,
    duplicate_suggestions,
)


async def _snapshot(hub: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that holds customer data, in primary-key order."""
    out = {}
    async with hub.store.read() as conn:
        for table in TABLES:
            rows = await conn.execute(select(table).order_by(*table.primary_key.columns))
            out[table.name] = [tuple(r) for r in rows]
    return out


async def _seed(hub: Any, http: aiohttp.ClientSession) -> tuple[int, int]:
    """Ann twice: two records with tickets, purchases, consents, a greeting, a suggestion."""
    first = await post_form(
        http, hub, name="Ann Smith", email="ann@example.com", phone="01712-345678", message="hi"
    )
    second = await post_form(http, hub, name="Ann S.", email="ann.s@example.org", message="yo")
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with hub.store.write() as conn:
        ids = {
            t.id: t.customer_id
            for t in await conn.execute(select(tickets.c.id, tickets.c.customer_id))
        }
        a, b = ids[int(first[2:])], ids[int(second[2:])]
        for customer_id, ref in ((a, "A-1"), (b, "B-1"), (b, "B-2")):
            await conn.execute(
                purchases.insert().values(
                    customer_id=customer_id,
                    order_ref=ref,
                    amount=Decimal("12.50"),
                    currency="BDT",
                    purchased_at=now,
                    items="shoes",
                    created_at=now,
                )
            )
        for customer_id, channel, status in ((a, "email", "opt_in"), (b, "email", "opt_out"), (b, "sms", "opt_in")):  # fmt: skip
            await conn.execute(
                consents.insert().values(
                    customer_id=customer_id,
                    channel=channel,
                    status=status,
                    source="test",
                    recorded_at=now,
                )
            )
        for customer_id, year in ((a, 2025), (b, 2025), (b, 2024)):
            await conn.execute(
                greeting_sends.insert().values(
                    customer_id=customer_id,
                    occasion="birthday",
                    year=year,
                    channel="email",
                    created_at=now,
                )
            )
        for customer_id, campaign in ((a, "spring"), (b, "spring"), (b, "autumn")):
            await conn.execute(
                campaign_sends.insert().values(
                    customer_id=customer_id, campaign=campaign, channel="email", created_at=now
                )
            )
        await conn.execute(
            duplicate_suggestions.insert().values(
                customer_id=a,
                other_customer_id=b,
                reason="close name",
                status="open",
                created_at=now,
            )
        )
    return a, b


async def test_merge_then_undo_restores_both_customers_exactly(
    storage_url: str, smtp: SmtpSink
) -> None:
    config = make_config(inbox_config(storage_url, smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        a, b = await _seed(hub, http)
        await smtp.wait_for(2)
        await _wait_outbox_settled(hub)
        before = await _snapshot(hub)

        async with http.get(hub_url(hub, "/api/v1/duplicates")) as resp:
            assert [
                (d["customer_id"], d["other_customer_id"])
                for d in (await resp.json())["duplicates"]
            ] == [(a, b)]
        async with http.post(
            hub_url(hub, f"/api/v1/customers/{a}/merge"), json={"other_customer_id": b}
        ) as resp:
            assert resp.status == 200, await resp.text()
            merge_id = (await resp.json())["merge_id"]
        async with http.get(hub_url(hub, f"/api/v1/customers/{a}")) as resp:
            merged = await resp.json()
        assert {i["value"] for i in merged["identities"]} == {
            "ann@example.com",
            "+8801712345678",
            "ann.s@example.org",
        }
        assert len(merged["tickets"]) == 2 and len(merged["purchases"]) == 3
        # Ann's own email consent wins; the sms consent came along; 2024's greeting too.
        assert {(c["channel"], c["status"]) for c in merged["consents"]} == {
            ("email", "opt_in"),
            ("sms", "opt_in"),
        }
        async with hub.store.read() as conn:
            years = sorted(
                (r.customer_id, r.year)
                for r in await conn.execute(
                    select(greeting_sends.c.customer_id, greeting_sends.c.year)
                )
            )
            record = (await conn.execute(select(customer_merges))).one()
            campaigns = sorted(
                tuple(r)
                for r in await conn.execute(
                    select(campaign_sends.c.customer_id, campaign_sends.c.campaign)
                )
            )
        assert years == [(a, 2024), (a, 2025), (b, 2025)]
        assert campaigns == [(a, "autumn"), (a, "spring"), (b, "spring")]
        assert record.merged_by == "tests" and record.undone_at is None
        async with http.get(hub_url(hub, "/api/v1/duplicates")) as resp:
            assert (await resp.json())["duplicates"] == []
        async with http.post(
            hub_url(hub, f"/api/v1/customers/{a}/merge"), json={"other_customer_id": b}
        ) as resp:
            assert resp.status == 409  # already merged

        async with http.post(hub_url(hub, f"/api/v1/merges/{merge_id}/undo")) as resp:
            assert resp.status == 200, await resp.text()
        assert await _snapshot(hub) == before
        async with http.post(hub_url(hub, f"/api/v1/merges/{merge_id}/undo")) as resp:
            assert resp.status == 409


async def test_agents_merge_only_customers_they_can_see(storage_url: str, smtp: SmtpSink) -> None:
    config = make_config(inbox_config(storage_url, smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        a = await post_form(http, hub, email="ann@example.com", message="parcel")
        b = await post_form(http, hub, email="bob@example.com", message="my invoice")
        async with hub.store.write() as conn:
            owners = dict((await conn.execute(select(tickets.c.id, tickets.c.customer_id))).all())
            sam = await create_api_token(conn, "sam", "test")
        ann, bob = owners[int(a[2:])], owners[int(b[2:])]
        async with http.post(
            hub_url(hub, f"/api/v1/customers/{ann}/merge"),
            json={"other_customer_id": bob},
            headers={"Authorization": f"Bearer {sam}"},
        ) as resp:
            assert resp.status == 403  # Bob writes to billing, Sam works in support


async def _wait_outbox_settled(hub: Any) -> None:
    """The acknowledgements' outbox rows change state as they are sent: let them finish."""
    for _ in range(200):
        async with hub.store.read() as conn:
            busy = (
                await conn.execute(select(outbox.c.id).where(outbox.c.status != "sent"))
            ).first()
        if busy is None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox did not settle")


async def test_review_screen_merges_and_undoes(tmp_path: Any, smtp: SmtpSink) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        a, b = await _seed(hub, http)
        await smtp.wait_for(2)
        await _wait_outbox_settled(hub)
        before = await _snapshot(hub)
        csrf = await login(http, hub, "ada")
        async with http.get(hub_url(hub, "/inbox/duplicates")) as resp:
            page = await resp.text()
        assert f"Keep #{a}" in page and f"Keep #{b}" in page and "close name" in page
        async with http.post(
            hub_url(hub, "/inbox/merges"),
            data={"csrf_token": csrf, "survivor_id": str(a), "merged_id": str(b)},
        ) as resp:
            page = await resp.text()
        assert f"Customer {b} was merged into this one." in page
        assert "ann.s@example.org" in page  # the merged identity shows on the survivor
        undo = re.search(r'action="(/inbox/merges/\d+/undo)"', page)
        assert undo is not None
        async with http.post(hub_url(hub, undo.group(1)), data={"csrf_token": csrf}) as resp:
            page = await resp.text()
        assert f"customer {b} is separate again" in page and "undone by Ada Admin" in page
        assert await _snapshot(hub) == before


async def test_messages_after_a_merge_go_back_with_their_ticket(
    tmp_path: Any, smtp: SmtpSink
) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:
        first = await post_form(http, hub, name="Ann", email="ann@example.com", message="one")
        second = await post_form(http, hub, name="Ann S", email="ann.s@example.org", message="two")
        async with http.patch(
            hub_url(hub, f"/api/v1/tickets/{first[2:]}"), json={"status": "solved"}
        ) as resp:
            a = (await resp.json())["customer_id"]
        async with http.get(hub_url(hub, f"/api/v1/tickets/{second[2:]}")) as resp:
            b = (await resp.json())["customer_id"]
        async with http.post(
            hub_url(hub, f"/api/v1/customers/{a}/merge"), json={"other_customer_id": b}
        ) as resp:
            merge_id = (await resp.json())["merge_id"]
        # The moved ticket took Ann's open key: her next message threads onto it.
        again = await post_form(http, hub, email="ann.s@example.org", message="three")
        assert again == second
        async with http.post(hub_url(hub, f"/api/v1/merges/{merge_id}/undo")) as resp:
            assert resp.status == 200
        async with hub.store.read() as conn:
            rows = (
                await conn.execute(
                    select(messages.c.body_text, messages.c.customer_id).where(
                        messages.c.ticket_id == int(second[2:]), messages.c.direction == "in"
                    )
                )
            ).all()
            key = (
                await conn.execute(
                    select(tickets.c.open_key).where(tickets.c.id == int(second[2:]))
                )
            ).scalar_one()
        assert sorted(rows) == [("three", b), ("two", b)]
        assert key == f"{b}:webform"
