"""The JSON API (read-only for now), behind bearer tokens from config."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import select

from hub.store.schema import consents, customers, identities, messages, purchases, tickets
from hub.tickets import STATUSES, ticket_ref

if TYPE_CHECKING:
    from hub.app import Hub

API_HUB = web.AppKey("api_hub", object)
MAX_PAGE = 200

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def api_app(hub: Hub) -> web.Application:
    tokens = [t.token.get_secret_value().encode() for t in hub.config.api.tokens]

    @web.middleware
    async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        ok = scheme.lower() == "bearer" and any(
            hmac.compare_digest(given.encode(), t) for t in tokens
        )
        if not ok:
            return web.json_response(
                {"error": "a valid bearer token is required"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="hub"'},
            )
        return await handler(request)

    app = web.Application(middlewares=[bearer_auth])
    app[API_HUB] = hub
    app.router.add_get("/tickets", list_tickets)
    app.router.add_get("/tickets/{id}", get_ticket)
    app.router.add_get("/customers/{id}", get_customer)
    return app


def _hub(request: web.Request) -> Hub:
    return request.app[API_HUB]  # type: ignore[return-value]


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row(row: Any) -> dict[str, Any]:
    return {k: _json(v) for k, v in row._mapping.items()}


def _int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(
            text=f'{{"error": "{name} must be an integer"}}', content_type="application/json"
        ) from None
    if not lo <= value <= hi:
        raise web.HTTPBadRequest(
            text=f'{{"error": "{name} must be between {lo} and {hi}"}}',
            content_type="application/json",
        )
    return value


def _path_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(
            text='{"error": "not found"}', content_type="application/json"
        ) from None


def _ticket_json(row: Any) -> dict[str, Any]:
    out = _row(row)
    out.pop("open_key", None)
    out["ref"] = ticket_ref(row.id)
    return out


async def list_tickets(request: web.Request) -> web.Response:
    limit = _int_param(request, "limit", 50, 1, MAX_PAGE)
    offset = _int_param(request, "offset", 0, 0, 10**9)
    query = select(tickets).order_by(tickets.c.id.desc()).limit(limit).offset(offset)
    status = request.query.get("status")
    if status is not None:
        if status not in STATUSES:
            return web.json_response({"error": f"status must be one of {STATUSES}"}, status=400)
        query = query.where(tickets.c.status == status)
    if (team := request.query.get("team")) is not None:
        query = query.where(tickets.c.team_id == team)
    if (customer := request.query.get("customer")) is not None:
        if not customer.isdigit():
            return web.json_response({"error": "customer must be an id"}, status=400)
        query = query.where(tickets.c.customer_id == int(customer))
    async with _hub(request).store.read() as conn:
        rows = (await conn.execute(query)).all()
    return web.json_response({"tickets": [_ticket_json(r) for r in rows]})


async def get_ticket(request: web.Request) -> web.Response:
    ticket_id = _path_id(request)
    async with _hub(request).store.read() as conn:
        row = (await conn.execute(select(tickets).where(tickets.c.id == ticket_id))).first()
        if row is None:
            return web.json_response({"error": "not found"}, status=404)
        msgs = (
            await conn.execute(
                select(messages).where(messages.c.ticket_id == ticket_id).order_by(messages.c.id)
            )
        ).all()
    return web.json_response({**_ticket_json(row), "messages": [_row(m) for m in msgs]})


async def get_customer(request: web.Request) -> web.Response:
    customer_id = _path_id(request)
    async with _hub(request).store.read() as conn:
        row = (await conn.execute(select(customers).where(customers.c.id == customer_id))).first()
        if row is None:
            return web.json_response({"error": "not found"}, status=404)
        ids = (
            await conn.execute(select(identities).where(identities.c.customer_id == customer_id))
        ).all()
        cons = (
            await conn.execute(select(consents).where(consents.c.customer_id == customer_id))
        ).all()
        ticks = (
            await conn.execute(
                select(tickets).where(tickets.c.customer_id == customer_id).order_by(tickets.c.id)
            )
        ).all()
        buys = (
            await conn.execute(
                select(purchases)
                .where(purchases.c.customer_id == customer_id)
                .order_by(purchases.c.purchased_at)
            )
        ).all()
    return web.json_response(
        {
            **_row(row),
            "identities": [_row(i) for i in ids],
            "consents": [_row(c) for c in cons],
            "tickets": [_ticket_json(t) for t in ticks],
            "purchases": [_row(p) for p in buys],
        }
    )
