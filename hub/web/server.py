"""The one aiohttp app: connector sub-apps, /healthz and /readyz, /metrics, the JSON API."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.core.proxies import forwarded_middleware, parse_networks
from hub.outbox.entries import depth
from hub.proactive.campaign_sweep import pending_by_campaign
from hub.web.api import api_app
from hub.web.deps import DEPS, WebDeps, deps_of
from hub.web.health import healthz, readyz
from hub.web.inbox import inbox_app
from hub.web.survey_page import survey_app
from hub.web.unsubscribe import unsubscribe_app

log = logging.getLogger("hub.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error path=%s", request.path)
        deps_of(request).metrics.errors.labels(where="web").inc()
        response = web.json_response({"error": "internal error"}, status=500)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.content_type == "text/html":
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        )
    return response


def build_web_app(deps: WebDeps) -> web.Application:
    middlewares: list[Any] = [security_headers]
    if deps.web.trusted_proxies:
        trusted = parse_networks(deps.web.trusted_proxies)
        middlewares.insert(0, forwarded_middleware(trusted))
    app = web.Application(middlewares=middlewares)
    app[DEPS] = deps
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.add_subapp("/api/v1/", api_app(deps))
    app.add_subapp("/inbox/", inbox_app(deps))
    app.add_subapp("/unsubscribe/", unsubscribe_app())
    app.add_subapp("/survey/", survey_app(deps.on_solve.planner.config if deps.on_solve else None))
    for cid, connector in deps.connectors.items():
        sub = connector.web_app()
        if sub is not None:
            app.add_subapp(f"/channels/{cid}/", sub)
    return app


async def index(request: web.Request) -> web.Response:
    deps = deps_of(request)
    links = "".join(
        f'<li><a href="/channels/{html.escape(cid)}/">{html.escape(cid)}</a> '
        f"({html.escape(c.config.type)})</li>"
        for cid, c in deps.connectors.items()
        if c.web_app() is not None
    )
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Hub</title>"
        f"<h1>Hub</h1><p>Channels:</p><ul>{links}</ul>"
        '<p><a href="/healthz">Health</a></p></html>'
    )
    return web.Response(text=body, content_type="text/html")


async def metrics(request: web.Request) -> web.Response:
    deps = deps_of(request)
    try:
        async with deps.store.read() as conn:
            counts, oldest = await depth(conn)
            pending = await pending_by_campaign(conn)
        seen = deps.metrics.campaigns_seen
        seen.update([*(c.name for c in deps.campaigns), *pending])
        for name in seen:
            deps.metrics.campaign_pending.labels(campaign=name).set(pending.get(name, 0))
        for status in ("pending", "sent", "dead"):
            deps.metrics.outbox_depth.labels(status=status).set(counts.get(status, 0))
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0
        deps.metrics.outbox_oldest_age.set(max(0.0, age))
    except Exception:
        log.exception("metrics: storage query failed")
    for cid, sup in deps.supervisors.items():
        deps.metrics.connector_up.labels(connector=cid).set(1 if sup.ready else 0)
    return web.Response(
        body=generate_latest(deps.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )
