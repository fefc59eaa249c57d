"""REST: creating customers, adding and removing identities, recording purchases."""

from __future__ import annotations

from aiohttp import web

from hub.customers.records import (
    CustomerCreate,
    IdentityIn,
    PurchaseIn,
    RecordRefused,
    add_identity,
    add_purchase,
    create_customer,
    list_purchases,
    remove_identity,
)
from hub.web.api_common import (
    MAX_PAGE,
    actor_of,
    error,
    int_param,
    path_id,
    read_body,
    row_json,
)
from hub.web.api_customers import check_visible, customer_response
from hub.web.deps import deps_of


async def post_customer(request: web.Request) -> web.Response:
    # A customer without tickets is in no team's view: only admins and integrations add them.
    if not actor_of(request).is_admin:
        raise error(403, "only admins and integrations create customers")
    deps = deps_of(request)
    body = await read_body(request, CustomerCreate)
    async with deps.store.write() as conn:
        try:
            customer_id = await create_customer(
                conn,
                body,
                locales=deps.settings.locales,
                default_locale=deps.settings.default_locale,
                default_timezone=deps.settings.timezone,
                region=deps.settings.phone_region,
            )
        except RecordRefused as exc:
            raise error(409, str(exc)) from None
        except ValueError as exc:
            raise error(422, str(exc)) from None
    return await customer_response(request, customer_id, status=201)


async def post_identity(request: web.Request) -> web.Response:
    deps = deps_of(request)
    customer_id = path_id(request)
    body = await read_body(request, IdentityIn)
    async with deps.store.write() as conn:
        await check_visible(request, conn, customer_id)
        try:
            row = await add_identity(conn, customer_id, body, deps.settings.phone_region)
        except RecordRefused as exc:
            raise error(409, str(exc)) from None
        except ValueError as exc:
            raise error(422, str(exc)) from None
    return web.json_response(row_json(row), status=201)


async def delete_identity(request: web.Request) -> web.Response:
    customer_id = path_id(request)
    identity_id = path_id(request, "identity_id")
    async with deps_of(request).store.write() as conn:
        await check_visible(request, conn, customer_id)
        try:
            removed = await remove_identity(conn, customer_id, identity_id)
        except RecordRefused as exc:
            raise error(409, str(exc)) from None
    if not removed:
        raise error(404, "no such identity on this customer")
    return web.Response(status=204)


async def get_purchases(request: web.Request) -> web.Response:
    customer_id = path_id(request)
    limit = int_param(request, "limit", 50, 1, MAX_PAGE)
    offset = int_param(request, "offset", 0, 0, 10**9)
    async with deps_of(request).store.read() as conn:
        await check_visible(request, conn, customer_id)
        rows = await list_purchases(conn, customer_id, limit, offset)
    return web.json_response({"purchases": [row_json(r) for r in rows]})


async def post_purchase(request: web.Request) -> web.Response:
    customer_id = path_id(request)
    body = await read_body(request, PurchaseIn)
    async with deps_of(request).store.write() as conn:
        await check_visible(request, conn, customer_id)
        try:
            row = await add_purchase(conn, customer_id, body)
        except RecordRefused as exc:
            raise error(409, str(exc)) from None
    return web.json_response(row_json(row), status=201)
