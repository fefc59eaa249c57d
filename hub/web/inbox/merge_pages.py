"""The duplicate review screen, merging two customers, undoing a merge."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from hub.core.edge_text import parse_id
from hub.customers.merge import MergeRefused, find_merge, merge_customers, undo_merge
from hub.customers.views import customer_visible
from hub.dedup.review import find_suggestion, mark_distinct, review_queue
from hub.web.deps import deps_of
from hub.web.inbox.auth import session_of
from hub.web.inbox.pages import PREFIX, read_form, render, see_other


async def duplicates_page(request: web.Request) -> web.Response:
    session = session_of(request)
    async with deps_of(request).store.read() as conn:
        pairs = await review_queue(conn, session.actor)
    return render(
        "duplicates.html",
        {
            "actor": session.actor,
            "csrf": session.csrf_token,
            "pairs": pairs,
            "error": request.query.get("error", "")[:500],
            "notice": request.query.get("notice", "")[:500],
        },
    )


async def distinct(request: web.Request) -> web.Response:
    """A reviewer's "not the same person": the pair leaves the queue for good."""
    session = session_of(request)
    suggestion_id = _id(request.match_info["id"])
    if suggestion_id is None:
        raise web.HTTPNotFound()
    async with deps_of(request).store.write() as conn:
        row = await find_suggestion(conn, suggestion_id)
        if row is None:
            raise web.HTTPNotFound()
        for customer_id in (row.customer_id, row.other_customer_id):
            if not await customer_visible(conn, session.actor, customer_id):
                return render(
                    "error.html",
                    {"status": 403, "message": "These customers are not yours to review."},
                    status=403,
                )
        done = await mark_distinct(conn, suggestion_id, session.actor.name)
    if not done:
        query = {"error": "That pair was already decided."}
    else:
        query = {
            "notice": f"Customers {row.customer_id} and {row.other_customer_id} are kept "
            "apart; they will not be suggested again."
        }
    return see_other(f"{PREFIX}duplicates?{urlencode(query)}")


def _id(raw: object) -> int | None:
    return parse_id(raw.strip()) if isinstance(raw, str) else None


async def merge(request: web.Request) -> web.Response:
    session = session_of(request)
    form = await read_form(request)
    survivor, merged = _id(form.get("survivor_id")), _id(form.get("merged_id"))
    if survivor is None or merged is None:
        return see_other(f"{PREFIX}duplicates?{urlencode({'error': 'give two customer ids'})}")
    back = f"{PREFIX}customers/{survivor}"
    async with deps_of(request).store.write() as conn:
        for customer_id in (survivor, merged):
            if not await customer_visible(conn, session.actor, customer_id):
                return render(
                    "error.html",
                    {"status": 403, "message": f"Customer {customer_id} is not yours to merge."},
                    status=403,
                )
        try:
            await merge_customers(conn, survivor, merged, session.actor.name)
        except MergeRefused as exc:
            return see_other(f"{back}?{urlencode({'error': str(exc)})}")
    notice = f"Customer {merged} was merged into this one. You can undo it below."
    return see_other(f"{back}?{urlencode({'notice': notice})}")


async def undo(request: web.Request) -> web.Response:
    session = session_of(request)
    merge_id = _id(request.match_info["id"])
    if merge_id is None:
        raise web.HTTPNotFound()
    async with deps_of(request).store.write() as conn:
        row = await find_merge(conn, merge_id)
        if row is None:
            raise web.HTTPNotFound()
        for customer_id in (row.survivor_id, row.merged_id):
            if not await customer_visible(conn, session.actor, customer_id):
                return render(
                    "error.html",
                    {"status": 403, "message": "These customers are not yours to unmerge."},
                    status=403,
                )
        back = f"{PREFIX}customers/{row.survivor_id}"
        try:
            await undo_merge(conn, merge_id, session.actor.name)
        except MergeRefused as exc:
            return see_other(f"{back}?{urlencode({'error': str(exc)})}")
    notice = f"The merge was undone: customer {row.merged_id} is separate again."
    return see_other(f"{back}?{urlencode({'notice': notice})}")
