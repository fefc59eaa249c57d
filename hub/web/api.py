"""The REST API under /api/v1/: bearer tokens of agents (their role and teams apply) or
integration tokens from config (they act for the whole hub). Documented by openapi.json."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from hub.agents.accounts import Actor, integration_actor
from hub.agents.auth import token_actor
from hub.core.edge_text import header_bytes
from hub.web import api_availability as availability
from hub.web import api_customers as customers
from hub.web import api_merges as merges
from hub.web import api_privacy as privacy
from hub.web import api_records as records
from hub.web import api_reports as reports
from hub.web import api_tickets as tickets
from hub.web import api_webhooks as webhooks
from hub.web.api_common import ACTOR
from hub.web.deps import WebDeps, deps_of
from hub.web.openapi import openapi_document

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _bearer_auth(deps: WebDeps) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """The middleware that sets each request's actor from its bearer token (or answers 401)."""
    integration = [(t.name, t.token.get_secret_value().encode()) for t in deps.api.tokens]

    async def authenticate(given: str) -> Actor | None:
        # Compare with every config token, so timing does not tell which one nearly matched.
        matched = None
        for name, token in integration:
            if hmac.compare_digest(given.encode(), token):
                matched = name
        if matched is not None:
            return integration_actor(matched)
        async with deps.store.read() as conn:
            return await token_actor(conn, given)

    @web.middleware
    async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        actor = None
        given = given.strip()
        # A token that is not valid UTF-8 matches none: refused like any other wrong one.
        if scheme.lower() == "bearer" and given and len(given) <= 200 and header_bytes(given):
            actor = await authenticate(given)
        if actor is None:
            return web.json_response(
                {"error": "a valid bearer token is required"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="hub"'},
            )
        request[ACTOR] = actor
        return await handler(request)

    return bearer_auth


def api_app(deps: WebDeps) -> web.Application:
    app = web.Application(middlewares=[_bearer_auth(deps)])
    r = app.router
    r.add_get("/openapi.json", openapi)
    r.add_get("/me", customers.me)
    r.add_get("/me/availability", availability.get_mine)
    r.add_put("/me/availability", availability.put_mine)
    r.add_get("/tickets", tickets.list_tickets_handler)
    r.add_get("/tickets/{id}", tickets.get_ticket)
    r.add_patch("/tickets/{id}", tickets.patch_ticket)
    r.add_post("/tickets/{id}/reply", tickets.post_reply)
    r.add_post("/tickets/{id}/notes", tickets.post_note)
    r.add_delete("/tickets/{id}/scheduled/{message_id}", tickets.cancel_scheduled_reply)
    r.add_get("/tickets/{id}/canned-responses/{canned_id}/preview", tickets.preview_canned)
    r.add_get("/customers", customers.list_customers_handler)
    r.add_post("/customers", records.post_customer)
    r.add_post("/customers/{id}/identities", records.post_identity)
    r.add_delete("/customers/{id}/identities/{identity_id}", records.delete_identity)
    r.add_get("/customers/{id}/purchases", records.get_purchases)
    r.add_post("/customers/{id}/purchases", records.post_purchase)
    r.add_get("/customers/{id}", customers.get_customer)
    r.add_patch("/customers/{id}", customers.patch_customer)
    merges.add_routes(r)
    r.add_get("/customers/{id}/export", privacy.get_export)
    r.add_post("/customers/{id}/erase", privacy.post_erase)
    r.add_get("/teams", customers.list_teams)
    r.add_get("/canned-responses", customers.list_canned_handler)
    r.add_post("/canned-responses", customers.create_canned_handler)
    r.add_get("/canned-responses/{id}", customers.get_canned_handler)
    r.add_delete("/canned-responses/{id}", customers.delete_canned_handler)
    r.add_get("/reports", reports.get_report)
    r.add_get("/reports/groups.csv", reports.get_report_csv)
    r.add_get("/reports/series.csv", reports.get_series_csv)
    r.add_get("/reports/tickets.csv", reports.get_tickets_csv)
    webhooks.add_routes(r)
    return app


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(deps_of(request).web.public_url))
