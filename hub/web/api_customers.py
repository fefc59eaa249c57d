"""REST: customers (list, the 360 record, validated edits), teams, canned responses, me."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.actions.customer_edit import edit_customer
from hub.agents.teams import team_exists, teams_with_members
from hub.config.agents import check_template
from hub.customers.views import (
    CustomerPatch,
    CustomerSearch,
    customer_360,
    customer_visible,
    list_customers,
)
from hub.tickets.canned import create_canned, delete_canned, get_canned, list_canned
from hub.web.api_common import (
    MAX_PAGE,
    actor_of,
    error,
    int_param,
    path_id,
    read_body,
    row_json,
    text_param,
    ticket_json,
)
from hub.web.deps import deps_of
from hub.web.models import CannedBody


def customer_json(row: Any) -> dict[str, Any]:
    # The *_md columns are the greeting sweep's index helpers, not customer data.
    out = row_json(row, drop=("birthday_md", "anniversary_md", "since_md"))
    out["address"] = dict(row.address or {})
    out["tags"] = list(row.tags or [])
    return out


async def list_customers_handler(request: web.Request) -> web.Response:
    deps = deps_of(request)
    async with deps.store.read() as conn:
        rows = await list_customers(
            conn,
            actor_of(request),
            CustomerSearch(
                q=text_param(request, "q"),
                tag=text_param(request, "tag"),
                limit=int_param(request, "limit", 50, 1, MAX_PAGE),
                offset=int_param(request, "offset", 0, 0, 10**9),
            ),
            phone_region=deps.settings.phone_region,
        )
    return web.json_response({"customers": [customer_json(r) for r in rows]})


async def check_visible(request: web.Request, conn: Any, customer_id: int) -> None:
    visible = await customer_visible(conn, actor_of(request), customer_id)
    if visible is None:
        raise error(404, "not found")
    if not visible:
        raise error(403, "this customer has no tickets in your teams")


async def get_customer(request: web.Request) -> web.Response:
    return await customer_response(request, path_id(request))


async def customer_response(
    request: web.Request, customer_id: int, status: int = 200
) -> web.Response:
    async with deps_of(request).store.read() as conn:
        await check_visible(request, conn, customer_id)
        record = await customer_360(conn, actor_of(request), customer_id)
    return web.json_response(
        {
            **customer_json(record["customer"]),
            "identities": [row_json(i) for i in record["identities"]],
            "consents": [row_json(c) for c in record["consents"]],
            "tickets": [ticket_json(t) for t in record["tickets"]],
            "purchases": [row_json(p) for p in record["purchases"]],
        },
        status=status,
    )


async def patch_customer(request: web.Request) -> web.Response:
    deps = deps_of(request)
    customer_id = path_id(request)
    body = await read_body(request, CustomerPatch)
    try:
        values = body.values(deps.settings.locales)
    except ValueError as exc:
        raise error(422, str(exc)) from None
    async with deps.store.write() as conn:
        await check_visible(request, conn, customer_id)
        await edit_customer(conn, deps.after_change, customer_id, values)
    return await customer_response(request, customer_id)


async def list_teams(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with deps_of(request).store.read() as conn:
        found = await teams_with_members(conn)
    return web.json_response(
        {
            "teams": [
                {"id": t.id, "name": t.name, "agents": t.agents}
                for t in found
                if actor.can_see_team(t.id)
            ]
        }
    )


async def list_canned_handler(request: web.Request) -> web.Response:
    async with deps_of(request).store.read() as conn:
        found = await list_canned(conn, actor_of(request), text_param(request, "team"))
    return web.json_response({"canned_responses": [c.as_json() for c in found]})


async def get_canned_handler(request: web.Request) -> web.Response:
    async with deps_of(request).store.read() as conn:
        found = await get_canned(conn, actor_of(request), path_id(request))
    if found is None:
        raise error(404, "not found")
    return web.json_response(found.as_json())


def _admin_only(request: web.Request) -> None:
    if not actor_of(request).is_admin:
        raise error(403, "only admins manage canned responses")


async def create_canned_handler(request: web.Request) -> web.Response:
    _admin_only(request)
    body = await read_body(request, CannedBody)
    try:
        check_template(body.body)
    except ValueError as exc:
        raise error(422, str(exc)) from None
    async with deps_of(request).store.write() as conn:
        if body.team_id is not None and not await team_exists(conn, body.team_id):
            raise error(422, f"no team {body.team_id!r}")
        created = await create_canned(conn, body.name, body.body, body.team_id)
    if created is None:
        raise error(409, f"a canned response named {body.name!r} exists")
    return web.json_response(created.as_json(), status=201)


async def delete_canned_handler(request: web.Request) -> web.Response:
    _admin_only(request)
    async with deps_of(request).store.write() as conn:
        deleted = await delete_canned(conn, path_id(request))
    if not deleted:
        raise error(404, "not found")
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    actor = actor_of(request)
    return web.json_response(
        {
            "kind": actor.kind,
            "username": actor.username,
            "name": actor.name,
            "role": actor.role,
            "teams": sorted(actor.teams),
        }
    )
