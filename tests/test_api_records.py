"""Customers, identities and purchases written through the API, validated."""

from __future__ import annotations

from typing import Any

import aiohttp

from hub.agents.auth import create_api_token
from tests.inbox_support import inbox_config
from tests.support import SmtpSink, hub_running, hub_url, make_config

AUTH = {"Authorization": "Bearer test-token-0123456789"}


async def test_customers_identities_and_purchases(storage_url: str, smtp: SmtpSink) -> None:
    config = make_config(inbox_config(storage_url, smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession(headers=AUTH) as http:

        async def call(method: str, path: str, **kw: Any) -> tuple[int, Any]:
            async with http.request(method, hub_url(hub, "/api/v1" + path), **kw) as resp:
                return resp.status, (await resp.json() if resp.status != 204 else None)

        status, made = await call(
            "POST",
            "/customers",
            json={
                "display_name": "Rahim Uddin",
                "birthday": "1985-02-28",
                "identities": [
                    {"kind": "email", "value": " Rahim@Example.COM "},
                    {"kind": "phone", "value": "01712-345678"},
                ],
            },
        )
        assert status == 201, made
        cid = made["id"]
        assert {(i["kind"], i["value"]) for i in made["identities"]} == {
            ("email", "rahim@example.com"),
            ("phone", "+8801712345678"),
        }
        assert (made["locale"], made["timezone"]) == ("en", "Asia/Dhaka")  # the hub's defaults
        assert "birthday_md" not in made
        status, clash = await call(
            "POST",
            "/customers",
            json={"identities": [{"kind": "email", "value": "rahim@example.com"}]},
        )
        assert status == 409 and str(cid) in clash["error"]
        for bad in (
            {"identities": []},
            {"identities": [{"kind": "email", "value": "not-an-email"}]},
            {"identities": [{"kind": "phone", "value": "12"}]},
            {"identities": [{"kind": "email", "value": "x@example.com"}], "locale": "xx"},
        ):
            assert (await call("POST", "/customers", json=bad))[0] == 422, bad

        status, ident = await call(
            "POST", f"/customers/{cid}/identities", json={"kind": "telegram", "value": "5550001"}
        )
        assert status == 201 and ident["value"] == "5550001"
        assert (await call("DELETE", f"/customers/{cid}/identities/{ident['id']}"))[0] == 204
        assert (await call("DELETE", f"/customers/{cid}/identities/{ident['id']}"))[0] == 404

        purchase = {
            "order_ref": "ORD-1",
            "amount": "1499.50",
            "currency": "BDT",
            "purchased_at": "2026-03-01T10:00:00+06:00",
            "items": "sandals",
        }
        status, bought = await call("POST", f"/customers/{cid}/purchases", json=purchase)
        assert status == 201 and bought["amount"] == "1499.50"
        assert bought["purchased_at"].startswith("2026-03-01T04:00:00")
        assert (await call("POST", f"/customers/{cid}/purchases", json=purchase))[0] == 409
        for bad in ({"amount": "1.234"}, {"amount": "-1"}, {"currency": "taka"}, {"purchased_at": "2999-01-01T00:00:00Z"}):  # fmt: skip
            assert (await call("POST", f"/customers/{cid}/purchases", json={**purchase, "order_ref": "X", **bad}))[0] == 422, bad  # fmt: skip
        status, listed = await call("GET", f"/customers/{cid}/purchases")
        assert [p["order_ref"] for p in listed["purchases"]] == ["ORD-1"]

        # Agents do not create customers; a customer with no ticket in their teams is not theirs.
        async with hub.store.write() as conn:
            sam = {"Authorization": f"Bearer {await create_api_token(conn, 'sam', 't')}"}
        new = {"identities": [{"kind": "email", "value": "z@example.com"}]}
        assert (await call("POST", "/customers", json=new, headers=sam))[0] == 403
        assert (await call("GET", f"/customers/{cid}/purchases", headers=sam))[0] == 403
