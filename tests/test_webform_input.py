"""Bad form input gets a clear 4xx and nothing is stored."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from hub.app import Hub
from hub.store.schema import customers, messages, tickets
from tests.support import SmtpSink, base_config, hub_running, hub_url, make_config

FORM = "/channels/contact/"


async def _counts(hub: Hub) -> tuple[int, int, int]:
    async with hub.store.read() as conn:
        counts = [
            (await conn.execute(select(func.count()).select_from(t))).scalar_one()
            for t in (customers, tickets, messages)
        ]
    return counts[0], counts[1], counts[2]


BAD_JSON_BODIES: list[tuple[str, Any, int, str]] = [
    ("neither email nor phone", {"name": "A", "message": "hi"}, 422, "email"),
    ("bad email", {"email": "not-an-email", "message": "hi"}, 422, "email"),
    ("bad phone", {"phone": "12", "message": "hi"}, 422, "phone"),
    ("empty message", {"email": "a@example.com", "message": "   "}, 422, "message"),
    ("message too long", {"email": "a@example.com", "message": "x" * 10_001}, 422, "message"),
    (
        "unknown language",
        {"email": "a@example.com", "message": "hi", "language": "xx"},
        422,
        "language",
    ),
    ("number instead of text", {"email": "a@example.com", "message": 42}, 422, "message"),
    ("unknown field", {"email": "a@example.com", "message": "hi", "admin": True}, 422, "_"),
    (
        "bad idempotency key",
        {"email": "a@example.com", "message": "hi", "idempotency_key": "a b"},
        422,
        "idempotency_key",
    ),
    ("not an object", ["email", "a@example.com"], 400, "object"),
]


@pytest.mark.parametrize(
    ("name", "body", "status", "field"), BAD_JSON_BODIES, ids=[b[0] for b in BAD_JSON_BODIES]
)
async def test_bad_json_submission_is_refused_and_nothing_stored(
    tmp_path: Any, smtp: SmtpSink, name: str, body: Any, status: int, field: str
) -> None:
    config = make_config(base_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        async with http.post(hub_url(hub, FORM), json=body) as resp:
            assert resp.status == status, name
            payload = await resp.json()
        assert (field in payload.get("errors", {})) or field in payload.get("error", "")
        assert await _counts(hub) == (0, 0, 0)


async def test_malformed_json_and_oversize_and_wrong_type(storage_url: str, smtp: SmtpSink) -> None:
    config = make_config(base_config(storage_url, smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        url = hub_url(hub, FORM)
        headers = {"Content-Type": "application/json"}
        async with http.post(url, data=b"{not json", headers=headers) as resp:
            assert resp.status == 400
            assert "not valid JSON" in (await resp.json())["error"]
        big = json.dumps({"email": "a@example.com", "message": "x" * 70_000})
        async with http.post(url, data=big, headers=headers) as resp:
            assert resp.status == 413
        async with http.post(url, data=b"\xff\xfe", headers=headers) as resp:
            assert resp.status == 400
        async with http.post(url, data=b"<x/>", headers={"Content-Type": "text/xml"}) as resp:
            assert resp.status == 415
        assert await _counts(hub) == (0, 0, 0)


async def test_html_form_errors_are_shown_next_to_fields(tmp_path: Any, smtp: SmtpSink) -> None:
    config = make_config(base_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        form = {"name": "<b>Eve</b>", "email": "nope", "message": "hello"}
        async with http.post(hub_url(hub, FORM), data=form) as resp:
            assert resp.status == 422
            page = await resp.text()
        assert 'id="e-email"' in page and 'aria-invalid="true"' in page
        # What the visitor typed comes back, escaped.
        assert "&lt;b&gt;Eve&lt;/b&gt;" in page and "<b>Eve</b>" not in page
        assert await _counts(hub) == (0, 0, 0)


async def test_honeypot_looks_accepted_but_stores_nothing(tmp_path: Any, smtp: SmtpSink) -> None:
    config = make_config(base_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        body = {"email": "bot@example.com", "message": "buy now", "website": "http://spam"}
        async with http.post(hub_url(hub, FORM), json=body) as resp:
            assert resp.status == 202
        assert await _counts(hub) == (0, 0, 0)


async def test_per_ip_rate_limit_answers_429(tmp_path: Any, smtp: SmtpSink) -> None:
    data = base_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port)
    data["connectors"][0].update(posts_per_minute=1, burst=2)
    config = make_config(data)
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        statuses = []
        for i in range(4):
            body = {"email": f"c{i}@example.com", "message": "hello"}
            async with http.post(hub_url(hub, FORM), json=body) as resp:
                statuses.append(resp.status)
                retry_after = resp.headers.get("Retry-After")
        assert statuses == [201, 201, 429, 429]
        assert retry_after is not None and int(retry_after) >= 1
        assert (await _counts(hub))[1] == 2


async def test_form_page_is_accessible_html(tmp_path: Any, smtp: SmtpSink) -> None:
    config = make_config(base_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        async with http.get(hub_url(hub, FORM)) as resp:
            assert resp.status == 200
            page = await resp.text()
            assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    for name in ("name", "email", "phone", "subject", "message", "language"):
        assert f'<label for="f-{name}">' in page and f'id="f-{name}"' in page
    assert 'name="idempotency_key"' in page
    assert "বাংলা" in page  # the language choice names itself


@pytest.mark.parametrize(
    ("trusted", "limited"),
    [
        (["127.0.0.1"], [201, 201, 201, 201]),  # the proxy on loopback names two clients
        (["10.0.0.0/8"], [201, 201, 429, 429]),  # loopback is no proxy: its header is ignored
    ],
)
async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    tmp_path: Any, smtp: SmtpSink, trusted: list[str], limited: list[int]
) -> None:
    data = base_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port)
    data["connectors"][0].update(posts_per_minute=1, burst=2)
    data["web"]["trusted_proxies"] = trusted
    config = make_config(data)
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        statuses = []
        for i, client in enumerate(["198.51.100.7", "198.51.100.7", "203.0.113.9", "203.0.113.9"]):
            body = {"email": f"c{i}@example.com", "message": "hello"}
            # What a proxy chain sends: a client's forged entry first, then the real client.
            headers = {"X-Forwarded-For": f"6.6.6.6, {client}"}
            async with http.post(hub_url(hub, FORM), json=body, headers=headers) as resp:
                statuses.append(resp.status)
        assert statuses == limited
