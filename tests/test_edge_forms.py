"""Hostile text at the web form and the JSON API (issue 13): refused with a 4xx naming the
field, never stored, never a 500; a client's idempotency key bound to its request."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
import yarl
from sqlalchemy import func, select

from hub.app import Hub
from hub.store.schema import customers, messages, tickets
from tests.support import SmtpSink, base_config, hub_running, hub_url, make_config

FORM = "/channels/contact/"
JSON = {"Content-Type": "application/json"}
AUTH = {"Authorization": "Bearer test-token-0123456789", **JSON}


async def _counts(hub: Hub) -> tuple[int, int, int]:
    """Customers, tickets and inbound messages stored."""
    async with hub.store.read() as conn:
        counts = [
            (await conn.execute(select(func.count()).select_from(t))).scalar_one()
            for t in (customers, tickets)
        ]
        inbound = select(func.count()).where(messages.c.direction == "in")
        counts.append((await conn.execute(inbound)).scalar_one())
    return counts[0], counts[1], counts[2]


HOSTILE_FORM_BODIES: list[tuple[str, bytes, str]] = [
    # (what, the raw JSON body, the field the answer must name)
    ("lone surrogate in the name", b'{"name":"hi \\ud800","email":"a@example.com","message":"m"}', "name"),
    ("lone surrogate in the message", b'{"email":"a@example.com","message":"hi \\udfff"}', "message"),
    ("NUL in the name", b'{"name":"Eve\\u0000Bcc: x","email":"a@example.com","message":"m"}', "name"),
    ("NUL in the subject", b'{"subject":"S\\u0000X","email":"a@example.com","message":"m"}', "subject"),
    ("nested 50,000 deep", b'{"email":"a@example.com","message":"m","x":' + b"[" * 50_000 + b"]" * 50_000 + b"}", ""),
    ("a 10,000-digit number", b'{"email":"a@example.com","message":"m","x":' + b"9" * 10_000 + b"}", ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "body", "field"), HOSTILE_FORM_BODIES, ids=[b[0] for b in HOSTILE_FORM_BODIES]
)
async def test_hostile_json_form_post_is_a_400_naming_the_field_and_nothing_is_stored(
    storage_url: str, smtp: SmtpSink, what: str, body: bytes, field: str
) -> None:
    data = base_config(storage_url, smtp.port)
    data["connectors"][0]["max_body_bytes"] = 200_000
    config = make_config(data)
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        async with http.post(hub_url(hub, FORM), data=body, headers=JSON) as resp:
            assert resp.status == 400, (what, await resp.text())
            answer = await resp.json()
        if field:
            assert field in answer["errors"] and field in answer["error"], answer
        # The hub still takes a good post afterwards: the marker that nothing else arrived.
        good = {"email": "b@example.com", "message": "after"}
        async with http.post(hub_url(hub, FORM), json=good) as resp:
            assert resp.status == 201
        assert await _counts(hub) == (1, 1, 1)
        mails = await smtp.wait_for(1)
    assert [m["To"] for m in mails] == ["b@example.com"]


async def test_nul_in_an_html_form_field_is_refused_next_to_the_field(
    storage_url: str, smtp: SmtpSink
) -> None:
    config = make_config(base_config(storage_url, smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        for field in ("name", "subject"):
            form = {"email": "a@example.com", "message": "hi", field: "Eve\x00\r\nBcc: x"}
            async with http.post(hub_url(hub, FORM), data=form) as resp:
                assert resp.status == 400
                page = await resp.text()
            assert f'id="e-{field}"' in page and "NUL" in page
        assert await _counts(hub) == (0, 0, 0)


async def test_the_same_key_with_another_body_is_a_409_and_never_shows_the_first_ticket(
    storage_url: str, smtp: SmtpSink
) -> None:
    config = make_config(base_config(storage_url, smtp.port))
    first = {"email": "a@example.com", "message": "my order is late"}
    other = {"email": "b@example.com", "message": "another person"}
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        url = hub_url(hub, FORM)
        key = {"Idempotency-Key": "key-0123456789"}
        async with http.post(url, json=first, headers=key) as resp:
            assert resp.status == 201
            ticket = (await resp.json())["ticket"]
        # The same request again is the duplicate answer it always was.
        async with http.post(url, json=first, headers=key) as resp:
            assert resp.status == 200
            assert await resp.json() == {"status": "received", "ticket": ticket, "duplicate": True}
        async with http.post(url, json=other, headers=key) as resp:
            assert resp.status == 409
            answer = await resp.json()
        assert "already used for a different message" in answer["error"]
        assert ticket not in str(answer)
        # The HTML form: the key in a hidden field, the second sender sees no ticket number.
        page_fields = {**other, "idempotency_key": "key-0123456789"}
        async with http.post(url, data=page_fields) as resp:
            assert resp.status == 409
            page = await resp.text()
        assert ticket not in page and "already used for a different message" in page
        assert 'value="another person"' in page or "another person" in page
        fresh_key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
        assert fresh_key is not None and fresh_key.group(1) != "key-0123456789"
        assert await _counts(hub) == (1, 1, 1)


HOSTILE_API_BODIES: list[tuple[str, bytes, int]] = [
    ("lone surrogate", b'{"name":"hi \\ud800"}', 422),
    ("NUL", b'{"name":"a\\u0000b"}', 422),
    ("nested 50,000 deep", b'{"name":' + b"[" * 50_000 + b"]" * 50_000 + b"}", 400),
    ("a 10,000-digit number", b'{"name":' + b"1" * 10_000 + b"}", 400),
]


@pytest.mark.parametrize(
    ("what", "body", "status"), HOSTILE_API_BODIES, ids=[b[0] for b in HOSTILE_API_BODIES]
)
async def test_hostile_api_body_is_a_4xx(
    storage_url: str, what: str, body: bytes, status: int
) -> None:
    config = make_config(base_config(storage_url))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        url = hub_url(hub, "/api/v1/customers")
        async with http.post(url, data=body, headers=AUTH) as resp:
            assert resp.status == status, (what, await resp.text())
            answer = await resp.json()
        if status == 422:
            assert answer["field"] == "name"
        assert await _counts(hub) == (0, 0, 0)


async def _raw_get(hub: Hub, path: str, headers: bytes) -> bytes:
    """A request written byte for byte (a client library would re-encode the header)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", hub.port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode()
    writer.write(request + headers + b"\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


async def test_a_bearer_token_that_is_not_utf8_is_a_401(storage_url: str) -> None:
    config = make_config(base_config(storage_url))
    async with hub_running(config) as hub:
        answer = await _raw_get(hub, "/api/v1/me", b"Authorization: Bearer t\xe9st\r\n")
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        good = await _raw_get(hub, "/api/v1/me", b"Authorization: Bearer test-token-0123456789\r\n")
        assert good.startswith(b"HTTP/1.1 200"), good[:200]


def _ids() -> list[str]:
    return ["%C2%B2", "%D9%A1", "%EF%BC%91", "1%00"]


@pytest.mark.parametrize("raw_id", _ids())
async def test_api_ids_are_ascii_digits_only(storage_url: str, raw_id: str) -> None:
    config = make_config(base_config(storage_url))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        await _one_ticket(http, hub)
        for path in (f"/api/v1/tickets/{raw_id}", f"/api/v1/customers/{raw_id}"):
            url = hub_url(hub, "/") + path.lstrip("/")
            async with http.get(yarl_url(url), headers=AUTH) as resp:
                assert resp.status == 404, (path, await resp.text())


async def _one_ticket(http: aiohttp.ClientSession, hub: Hub) -> str:
    body = {"email": "a@example.com", "message": "ticket one"}
    async with http.post(hub_url(hub, FORM), json=body) as resp:
        assert resp.status == 201
        return str((await resp.json())["ticket"])


def yarl_url(url: str) -> yarl.URL:
    # Sent as written: the percent-escapes are the test.
    return yarl.URL(url, encoded=True)


async def test_an_idempotency_key_header_that_is_not_utf8_is_a_400(
    storage_url: str, smtp: SmtpSink
) -> None:
    # Found by the fuzz suite: the key came back into the form page as a lone surrogate.
    config = make_config(base_config(storage_url, smtp.port))
    async with hub_running(config) as hub:
        reader, writer = await asyncio.open_connection("127.0.0.1", hub.port)
        body = b"email=a%40example.com&message=hello"
        writer.write(
            f"POST {FORM} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n".encode()
            + b"Idempotency-Key: k\xff\xfe-0123456789\r\n\r\n"
            + body
        )
        await writer.drain()
        answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        assert b"Idempotency-Key" in answer
        assert await _counts(hub) == (0, 0, 0)


async def test_the_ticket_list_filters_by_an_ascii_customer_id_only(storage_url: str) -> None:
    config = make_config(base_config(storage_url))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        ref = await _one_ticket(http, hub)
        base = hub_url(hub, "/api/v1/tickets?customer=")
        async with http.get(yarl_url(base + "1"), headers=AUTH) as resp:
            assert resp.status == 200
            assert [t["ref"] for t in (await resp.json())["tickets"]] == [ref]
        for raw in ("%C2%B2", "%D9%A1", "1x"):
            async with http.get(yarl_url(base + raw), headers=AUTH) as resp:
                assert resp.status == 400, (raw, await resp.text())
