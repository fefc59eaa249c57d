"""Inbox log-in: session cookie, CSRF tokens on every form, log-out, lock-out."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from hub.agents.auth import Session, check_login, create_session, end_session, load_session
from hub.agents.login_throttle import LoginThrottle, account_key, address_key
from hub.core.edge_text import safe_redirect
from hub.store import utcnow
from hub.web.deps import WebDeps, deps_of
from hub.web.inbox.pages import PREFIX, read_form, render, see_other

SESSION_COOKIE = "hub_session"
LOGIN_CSRF_COOKIE = "hub_login_csrf"
SESSION = web.RequestKey("inbox_session", Session)
THROTTLE = web.AppKey("inbox_throttle", LoginThrottle)

# Reachable without a session: the log-in page and the static files.
STATIC = f"{PREFIX}static/"
PUBLIC = (f"{PREFIX}login", STATIC)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def session_of(request: web.Request) -> Session:
    return request[SESSION]


def login_throttle(deps: WebDeps) -> LoginThrottle:
    """Failed log-ins counted per account and per client address, in the database."""
    lock = deps.agents.lockout
    return LoginThrottle(
        deps.store,
        limits={"account": lock.max_failures_per_account, "address": lock.max_failures_per_ip},
        window_seconds=lock.window_minutes * 60,
        lock_seconds=lock.lock_minutes * 60,
    )


def _secure(request: web.Request) -> bool:
    return deps_of(request).web.public_url.startswith("https://")


def _set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=PREFIX.rstrip("/"),
        httponly=True,
        samesite="Lax",
        secure=_secure(request),
    )


def csrf_ok(expected: str, given: str | None) -> bool:
    # surrogateescape: aiohttp decodes header bytes that are not UTF-8 that way; they are
    # compared as the bytes they were (and never match), not a UnicodeEncodeError.
    raw = (given or "").encode("utf-8", "surrogateescape")
    return bool(given) and hmac.compare_digest(expected.encode(), raw)


async def _public(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(STATIC):
        return await handler(request)
    try:
        return await handler(request)
    except OSError:
        # aiohttp's static handler lets a name over the file system's limit (ENAMETOOLONG)
        # escape as OSError: there is no such file.
        raise web.HTTPNotFound() from None


@web.middleware
async def inbox_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every inbox route but the public ones needs a session; every POST its CSRF token."""
    started = time.perf_counter()
    if request.path.startswith(PUBLIC):
        response = await _public(request, handler)
    else:
        async with deps_of(request).store.read() as conn:
            session = await load_session(conn, request.cookies.get(SESSION_COOKIE, ""))
        if session is None:
            if request.method in ("GET", "HEAD") and not request.path.endswith(".json"):
                target = quote(request.path_qs, safe="/?=&")
                raise web.HTTPFound(f"{PREFIX}login?next={target}")
            raise web.HTTPUnauthorized(text="log in first")
        if request.method not in ("GET", "HEAD"):
            form = await read_form(request)
            given = request.headers.get("X-CSRF-Token") or form.get("csrf_token")
            if not csrf_ok(session.csrf_token, given if isinstance(given, str) else None):
                raise web.HTTPForbidden(text="the form expired or did not come from the inbox")
        request[SESSION] = session
        response = await handler(request)
        response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("Content-Security-Policy", CSP)
    # The server's own time, for the browser's dev tools and bench/inbox.py.
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


def _safe_next(raw: str | None) -> str:
    # Only back into the inbox: never an open redirect to another site, nor a target
    # whose control characters would break the Location header.
    return safe_redirect(raw, PREFIX)


async def login_page(request: web.Request) -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = _login_form(request, token, error=None, status=200)
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token)
    return response


def _login_form(
    request: web.Request, token: str, *, error: str | None, status: int
) -> web.Response:
    return render(
        "login.html",
        {"csrf": token, "error": error, "next": _safe_next(request.query.get("next"))},
        status=status,
    )


async def login(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    given = form.get("csrf_token")
    if not cookie or not csrf_ok(cookie, given if isinstance(given, str) else None):
        raise web.HTTPForbidden(text="the log-in form expired; reload the page")
    username = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))[:1024]
    throttle = request.app[THROTTLE]
    now = utcnow()
    keys = (account_key(username), address_key(request.remote or "unknown"))
    if await throttle.locked(keys, now):
        return _login_form(
            request, cookie, error="Too many failed log-ins. Try again later.", status=429
        )
    deps = deps_of(request)
    agent_id = await check_login(deps.store, username, password)
    if agent_id is None:
        await throttle.failure(keys, now)
        return _login_form(request, cookie, error="Wrong username or password.", status=401)
    await throttle.success(account_key(username))
    async with deps.store.write() as conn:
        token, _csrf = await create_session(conn, agent_id, deps.agents.session_hours)
    response = see_other(_safe_next(str(form.get("next", ""))))
    _set_cookie(request, response, SESSION_COOKIE, token)
    response.del_cookie(LOGIN_CSRF_COOKIE, path=PREFIX.rstrip("/"))
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    async with deps_of(request).store.write() as conn:
        await end_session(conn, request.cookies.get(SESSION_COOKIE, ""))
    response = see_other(f"{PREFIX}login")
    response.del_cookie(SESSION_COOKIE, path=PREFIX.rstrip("/"))
    return response
