"""The customer list agents search: by name, by an identity (exact or in part), by tag, paged."""

from __future__ import annotations

from hub.agents.accounts import Actor
from hub.customers.records import CustomerCreate, create_customer
from hub.customers.views import CustomerSearch, list_customers
from hub.store import Store

ADMIN = Actor("agent", "ann", "Ann", "admin", frozenset())


async def test_search_by_name_identity_and_tag_newest_first(storage_url: str) -> None:
    store = Store(storage_url)
    try:
        await store.migrate()
        async with store.write() as conn:
            ids = {}
            for name, email, phone, tags in (
                ("Rahim Uddin", "rahim@example.com", "+8801711000001", ["vip"]),
                ("Karim_50%", "karim@example.com", "+8801711000002", []),
                ("Ann Lee", "ann@example.org", "+8801711000003", ["vip", "b2b"]),
            ):
                body = CustomerCreate.model_validate(
                    {
                        "display_name": name,
                        "tags": tags,
                        "identities": [
                            {"kind": "email", "value": email},
                            {"kind": "phone", "value": phone},
                        ],
                    }
                )
                ids[name] = await create_customer(
                    conn,
                    body,
                    locales=["en"],
                    default_locale="en",
                    default_timezone="UTC",
                    region="BD",
                )

        async def names(q: str | None = None, tag: str | None = None, **page: int) -> list[str]:
            search = CustomerSearch(q, tag, page.get("limit", 50), page.get("offset", 0))
            async with store.read() as conn:
                rows = await list_customers(conn, ADMIN, search, phone_region="BD")
            return [r.display_name for r in rows]

        assert await names() == ["Ann Lee", "Karim_50%", "Rahim Uddin"]
        assert await names(limit=1, offset=1) == ["Karim_50%"]
        assert await names("rahim") == ["Rahim Uddin"]
        # A local number matches the stored international one exactly.
        assert await names("01711000003") == ["Ann Lee"]
        assert await names("example.com") == ["Karim_50%", "Rahim Uddin"]
        # LIKE's wildcards in the search text are literal characters.
        assert await names("_50%") == ["Karim_50%"]
        assert await names("%") == ["Karim_50%"]
        assert await names(tag="vip") == ["Ann Lee", "Rahim Uddin"]
        assert await names("ann", tag="b2b") == ["Ann Lee"]
        assert await names("nobody") == []
    finally:
        await store.close()
