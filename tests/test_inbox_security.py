"""Inbox and API access: anonymous requests refused everywhere, CSRF, cookies, lock-out, roles."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.core.safe_html import sanitize_html
from tests.inbox_support import PASSWORDS, inbox_config, login, post_form
from tests.support import SmtpSink, hub_running, hub_url, make_config, walk_routes

TOKEN = "test-token-0123456789"
# Public by design; everything else needs a session or a bearer token.
ALLOWED = (
    re.compile(r"^/$"),
    re.compile(r"^/healthz$"),
    re.compile(r"^/readyz$"),
    re.compile(r"^/metrics$"),
    re.compile(r"^/inbox/login$"),
    re.compile(r"^/inbox/static(/.*)?$"),
    re.compile(r"^/channels/.*"),
    # A greeting's unsubscribe link: the unguessable token in the URL is the credential.
    re.compile(r"^/unsubscribe/[^/]+$"),
    # A CSAT survey's link: likewise (hub.web.survey_page).
    re.compile(r"^/survey/[^/]+$"),
)


def _anonymous(status: int, headers: Any) -> bool:
    if status in (401, 403):
        return True
    return status in (302, 303) and headers.get("Location", "").startswith("/inbox/login")


async def test_every_route_refuses_an_anonymous_request(tmp_path: Path, smtp: SmtpSink) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        await post_form(http, hub, email="ann@example.com", message="hello")
        routes = sorted({(m, re.sub(r"\{[^}]+\}", "1", t)) for m, t in walk_routes(hub.web_app)})
        checked = []
        for method, path in routes:
            if any(p.match(path) for p in ALLOWED):
                continue
            for headers in ({}, {"Authorization": "Bearer not-a-token-000000000"}):
                async with http.request(
                    method, hub_url(hub, path), headers=headers, allow_redirects=False, data=b""
                ) as resp:
                    assert _anonymous(resp.status, resp.headers), (method, path, resp.status)
            checked.append((method, path))
    assert ("GET", "/inbox/tickets/1") in checked and ("PATCH", "/api/v1/tickets/1") in checked
    assert ("GET", "/api/v1/openapi.json") in checked and ("POST", "/inbox/logout") in checked
    assert len(checked) >= 20


async def test_form_posts_without_a_valid_csrf_token_are_refused(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        ref = await post_form(http, hub, email="ann@example.com", message="hello")
        tid = ref.removeprefix("T-")
        async with http.post(
            hub_url(hub, "/inbox/login"),
            data={"username": "sam", "password": PASSWORDS["sam"]},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 403  # the log-in form has its own token
        csrf = await login(http, hub, "sam")
        posts = {
            f"/inbox/tickets/{tid}": {"status": "solved"},
            f"/inbox/tickets/{tid}/reply": {"text": "hi"},
            f"/inbox/tickets/{tid}/note": {"text": "note"},
            "/inbox/customers/1": {"display_name": "Mallory", "locale": "en", "timezone": "UTC"},
            "/inbox/merges": {"survivor_id": "1", "merged_id": "2"},
            "/inbox/merges/1/undo": {},
            "/inbox/logout": {},
        }
        for path, fields in posts.items():
            for token in (None, "", "forged-" + csrf[7:], csrf + "x"):
                data = dict(fields) if token is None else {**fields, "csrf_token": token}
                async with http.post(hub_url(hub, path), data=data, allow_redirects=False) as resp:
                    assert resp.status == 403, (path, token)
        async with http.get(hub_url(hub, f"/api/v1/tickets/{tid}"), headers=_auth()) as resp:
            ticket = await resp.json()
        assert ticket["status"] == "new" and ticket["notes"] == []
        assert [m["direction"] for m in ticket["messages"]] == ["in", "out"]  # the ack only
        # With the token, the same post works.
        async with http.post(
            hub_url(hub, f"/inbox/tickets/{tid}/note"),
            data={"text": "checked", "csrf_token": csrf},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303


@pytest.mark.parametrize("public_url", ["http://127.0.0.1", "https://support.example.org"])
async def test_session_cookie_flags_and_logout(
    public_url: str, tmp_path: Path, smtp: SmtpSink
) -> None:
    data = inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port)
    data["web"]["public_url"] = public_url
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        hub_running(make_config(data)) as hub,
        aiohttp.ClientSession(cookie_jar=jar) as http,
    ):
        if public_url.startswith("https"):
            # The test talks plain HTTP, so the client would not send Secure cookies back:
            # carry the log-in form's cookie by hand and read the session cookie's header.
            async with http.get(hub_url(hub, "/inbox/login")) as resp:
                page = await resp.text()
                form_cookie = resp.cookies["hub_login_csrf"]
            assert form_cookie["secure"]
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            async with http.post(
                hub_url(hub, "/inbox/login"),
                data={"csrf_token": csrf, "username": "sam", "password": PASSWORDS["sam"]},
                headers={"Cookie": f"hub_login_csrf={form_cookie.value}"},
                allow_redirects=False,
            ) as resp:
                assert resp.status == 303
                cookie = next(
                    c for c in resp.headers.getall("Set-Cookie") if c.startswith("hub_session=")
                )
            assert "Secure" in cookie
        else:
            csrf = await login(http, hub, "sam")
            cookie = next(c for c in jar if c.key == "hub_session").output()
            assert "Secure" not in cookie
            async with http.post(
                hub_url(hub, "/inbox/logout"), data={"csrf_token": csrf}, allow_redirects=False
            ) as resp:
                assert resp.status == 303
            async with http.get(hub_url(hub, "/inbox/"), allow_redirects=False) as resp:
                assert resp.status == 302  # the session is gone server-side too
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/inbox" in cookie


async def test_repeated_failures_lock_the_account(tmp_path: Path, smtp: SmtpSink) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(hub_url(hub, "/inbox/login")) as resp:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text()).group(1)  # type: ignore[union-attr]

        async def attempt(username: str, password: str) -> int:
            async with http.post(
                hub_url(hub, "/inbox/login"),
                data={"csrf_token": csrf, "username": username, "password": password},
                allow_redirects=False,
            ) as resp:
                return resp.status

        assert [await attempt("sam", "wrong-password-0") for _ in range(3)] == [401, 401, 401]
        assert await attempt("sam", PASSWORDS["sam"]) == 429  # locked, even with the password
        # Per address: after 6 failures from this client, other accounts are refused too.
        assert [await attempt("nobody", "x" * 12) for _ in range(3)] == [401, 401, 401]
        assert await attempt("bill", PASSWORDS["bill"]) == 429


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_agent_tokens_see_only_their_teams(storage_url: str, smtp: SmtpSink) -> None:
    from hub.agents.auth import create_api_token

    config = make_config(inbox_config(storage_url, smtp.port))
    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        support = await post_form(
            http, hub, name="Ann", email="ann@example.com", message="My parcel is late"
        )
        billing = await post_form(http, hub, email="bob@example.com", message="my invoice")
        async with hub.store.write() as conn:
            sam = await create_api_token(conn, "sam", "test")
            bill = await create_api_token(conn, "bill", "test")
        s_id, b_id = support.removeprefix("T-"), billing.removeprefix("T-")

        async def status(method: str, path: str, token: str, **kw: Any) -> int:
            async with http.request(method, hub_url(hub, path), headers=_auth(token), **kw) as r:
                return r.status

        async with http.get(hub_url(hub, "/api/v1/tickets"), headers=_auth(sam)) as resp:
            assert [t["ref"] for t in (await resp.json())["tickets"]] == [support]
        async with http.get(hub_url(hub, "/api/v1/tickets"), headers=_auth()) as resp:
            assert {t["ref"] for t in (await resp.json())["tickets"]} == {support, billing}
        assert await status("GET", f"/api/v1/tickets/{s_id}", sam) == 200
        assert await status("GET", f"/api/v1/tickets/{s_id}", bill) == 403
        assert (
            await status("PATCH", f"/api/v1/tickets/{s_id}", bill, json={"status": "solved"}) == 403
        )
        assert await status("POST", f"/api/v1/tickets/{b_id}/notes", sam, json={"text": "x"}) == 403
        assert (
            await status("POST", "/api/v1/canned-responses", sam, json={"name": "n", "body": "b"})
            == 403
        )
        async with http.get(hub_url(hub, f"/api/v1/tickets/{s_id}"), headers=_auth()) as resp:
            customer_id = (await resp.json())["customer_id"]
        assert await status("GET", f"/api/v1/customers/{customer_id}", bill) == 403
        patched = {"display_name": "Ann Smith", "birthday": "1990-02-28", "tags": ["vip"]}
        async with http.patch(
            hub_url(hub, f"/api/v1/customers/{customer_id}"), headers=_auth(sam), json=patched
        ) as resp:
            assert resp.status == 200
            assert {k: (await resp.json())[k] for k in patched} == patched
        for bad in (
            {"locale": "xx"},
            {"timezone": "Mars/Base"},
            {"birthday": "2999-01-01"},
            {"id": 5},
        ):
            async with http.patch(
                hub_url(hub, f"/api/v1/customers/{customer_id}"), headers=_auth(sam), json=bad
            ) as resp:
                assert resp.status == 422, bad
        # Assigning to an agent outside the ticket's team is refused; to a member, accepted.
        async with http.patch(
            hub_url(hub, f"/api/v1/tickets/{s_id}"), headers=_auth(sam), json={"assignee": "bill"}
        ) as resp:
            assert resp.status == 409
        async with http.patch(
            hub_url(hub, f"/api/v1/tickets/{s_id}"),
            headers=_auth(sam),
            json={"assignee": "sam", "status": "pending", "tags": ["late", "late", "parcel"]},
        ) as resp:
            changed = await resp.json()
        assert (changed["assignee"], changed["status"], changed["tags"]) == (
            "sam",
            "pending",
            ["late", "parcel"],
        )
        async with http.get(
            hub_url(hub, "/api/v1/tickets?tag=parcel&assignee=sam"), headers=_auth()
        ) as resp:
            assert [t["ref"] for t in (await resp.json())["tickets"]] == [support]
        for q in ("ann@example.com", "Ann Smith", support, "parcel IS late", "ANN@example.com"):
            async with http.get(
                hub_url(hub, "/api/v1/tickets"), params={"q": q}, headers=_auth()
            ) as resp:
                assert [t["ref"] for t in (await resp.json())["tickets"]] == [support], q


@pytest.mark.parametrize(
    ("raw", "kept", "gone"),
    [
        ("<p>Hi <b>there</b></p>", "<b>there</b>", ""),
        ("<script>alert(1)</script>ok", "ok", "alert"),
        ('<img src=x onerror="alert(1)">', "", "onerror"),
        ('<a href="javascript:alert(1)">x</a>', ">x</a>", "javascript"),
        ('<a href="https://example.org">x</a>', 'rel="noopener noreferrer nofollow"', ""),
        ("<svg onload=alert(1)><style>*{}</style></svg>", "", "onload"),
        ('<iframe src="https://evil.example"></iframe><form action=x><input></form>', "", "iframe"),
        ('<p style="background:url(x)" onclick="x()">t</p>', "<p>t</p>", "style"),
    ],
)
def test_customer_html_is_sanitized(raw: str, kept: str, gone: str) -> None:
    clean = sanitize_html(raw) or ""
    assert kept in clean
    if gone:
        assert gone not in clean


async def test_attachments_download_only_for_the_ticket_team(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    from sqlalchemy import select

    from hub.store import utcnow
    from hub.store.schema import attachments, messages

    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    async with hub_running(config) as hub:
        async with aiohttp.ClientSession() as http:
            ref = await post_form(http, hub, email="ann@example.com", message="see attached")
        async with hub.store.write() as conn:
            message_id = (
                await conn.execute(
                    select(messages.c.id).where(
                        messages.c.ticket_id == int(ref[2:]), messages.c.direction == "in"
                    )
                )
            ).scalar_one()
            attachment_id = (
                await conn.execute(
                    attachments.insert()
                    .values(
                        message_id=message_id,
                        filename='invoice "march".html',
                        content_type="text/html",
                        size=29,
                        sha256="0" * 64,
                        content=b"<script>alert(1)</script>hi!",
                        created_at=utcnow(),
                    )
                    .returning(attachments.c.id)
                )
            ).scalar_one()
        url = hub_url(hub, f"/inbox/attachments/{attachment_id}")
        for username, expected in (("sam", 200), ("bill", 403)):
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as http:
                await login(http, hub, username)
                async with http.get(hub_url(hub, f"/inbox/tickets/{ref[2:]}")) as resp:
                    assert (f'href="/inbox/attachments/{attachment_id}"' in await resp.text()) is (
                        expected == 200
                    )
                async with http.get(url) as resp:
                    assert resp.status == expected, username
                    if expected == 200:
                        assert await resp.read() == b"<script>alert(1)</script>hi!"
                        # Never rendered in the inbox's origin: a download, sandboxed, not sniffed.
                        assert resp.headers["Content-Type"] == "application/octet-stream"
                        assert resp.headers["Content-Disposition"].startswith("attachment;")
                        assert resp.headers["Content-Security-Policy"] == "sandbox"
                        assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_an_expired_session_is_refused(tmp_path: Path, smtp: SmtpSink) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from hub.store import utcnow
    from hub.store.schema import agent_sessions

    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        await login(http, hub, "sam")
        async with hub.store.write() as conn:
            await conn.execute(
                update(agent_sessions).values(expires_at=utcnow() - timedelta(seconds=1))
            )
        async with http.get(hub_url(hub, "/inbox/"), allow_redirects=False) as resp:
            assert resp.status == 302
            assert resp.headers["Location"] == "/inbox/login?next=/inbox/"
