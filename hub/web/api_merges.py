"""REST: duplicate suggestions and "not the same person", merging two customers, undoing a
merge."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.customers.merge import MergeRefused, find_merge, merge_customers, undo_merge
from hub.customers.views import customer_visible, list_suggestions
from hub.dedup.review import find_suggestion, mark_distinct
from hub.web.api_common import actor_of, error, int_param, path_id, read_body, row_json
from hub.web.deps import deps_of
from hub.web.models import MergeBody


def add_routes(r: web.UrlDispatcher) -> None:
    """Merging, undoing, and the duplicate review queue (api_app has enough statements)."""
    r.add_post("/customers/{id}/merge", post_merge)
    r.add_post("/merges/{id}/undo", post_undo)
    r.add_get("/duplicates", list_duplicates)
    r.add_post("/duplicates/{id}/distinct", post_distinct)


async def list_duplicates(request: web.Request) -> web.Response:
    limit = int_param(request, "limit", 100, 1, 200)
    async with deps_of(request).store.read() as conn:
        rows = await list_suggestions(conn, actor_of(request), limit)
    return web.json_response({"duplicates": [row_json(r) for r in rows]})


async def _both_visible(request: web.Request, conn: AsyncConnection, ids: tuple[int, int]) -> None:
    for customer_id in ids:
        visible = await customer_visible(conn, actor_of(request), customer_id)
        if visible is None:
            raise error(404, f"no customer {customer_id}")
        if not visible:
            raise error(403, f"customer {customer_id} has no tickets in your teams")


async def post_merge(request: web.Request) -> web.Response:
    survivor = path_id(request)
    body = await read_body(request, MergeBody)
    actor = actor_of(request)
    async with deps_of(request).store.write() as conn:
        await _both_visible(request, conn, (survivor, body.other_customer_id))
        try:
            done = await merge_customers(conn, survivor, body.other_customer_id, actor.name)
        except MergeRefused as exc:
            raise error(409, str(exc)) from None
    return web.json_response(
        {"merge_id": done.id, "survivor_id": done.survivor_id, "merged_id": done.merged_id}
    )


async def post_undo(request: web.Request) -> web.Response:
    merge_id = path_id(request)
    actor = actor_of(request)
    async with deps_of(request).store.write() as conn:
        row = await find_merge(conn, merge_id)
        if row is None:
            raise error(404, "no such merge")
        await _both_visible(request, conn, (row.survivor_id, row.merged_id))
        try:
            done = await undo_merge(conn, merge_id, actor.name)
        except MergeRefused as exc:
            raise error(409, str(exc)) from None
    return web.json_response(
        {"merge_id": done.id, "survivor_id": done.survivor_id, "merged_id": done.merged_id}
    )


async def post_distinct(request: web.Request) -> web.Response:
    """A caller's "not the same person" (hub.dedup.review): never suggested again."""
    suggestion_id = path_id(request)
    actor = actor_of(request)
    async with deps_of(request).store.write() as conn:
        row = await find_suggestion(conn, suggestion_id)
        if row is None:
            raise error(404, "no such duplicate suggestion")
        await _both_visible(request, conn, (row.customer_id, row.other_customer_id))
        if not await mark_distinct(conn, suggestion_id, actor.name):
            raise error(409, f"this pair was decided already ({row.status})")
    return web.json_response(
        {
            "id": row.id,
            "customer_id": row.customer_id,
            "other_customer_id": row.other_customer_id,
            "status": "distinct",
        }
    )
