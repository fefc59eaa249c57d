"""The support team's inbox: a sub-app mounted under /inbox/."""

from __future__ import annotations

from aiohttp import web

from hub.agents.accounts import sync_agents
from hub.tickets.canned import sync_canned
from hub.web.deps import WebDeps
from hub.web.inbox import (
    availability_views,
    customer_pages,
    merge_pages,
    queue_views,
    report_pages,
    ticket_views,
)
from hub.web.inbox.auth import (
    THROTTLE,
    inbox_guard,
    login,
    login_page,
    login_throttle,
    logout,
)
from hub.web.inbox.pages import HERE


def inbox_app(deps: WebDeps) -> web.Application:
    app = web.Application(middlewares=[inbox_guard])
    app[THROTTLE] = login_throttle(deps)

    async def sync_from_config(_app: web.Application) -> None:
        # The hub has migrated and synced teams before the web app starts.
        await sync_agents(deps.store, deps.agents)
        await sync_canned(deps.store, deps.agents.canned_responses)

    app.on_startup.append(sync_from_config)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", queue_views.queue_page)
    app.router.add_get("/queue.json", queue_views.queue_poll)
    app.router.add_get("/tickets/{id}", ticket_views.ticket_page)
    app.router.add_post("/tickets/{id}", ticket_views.ticket_update)
    app.router.add_post("/tickets/{id}/reply", ticket_views.ticket_reply)
    app.router.add_post("/tickets/{id}/note", ticket_views.ticket_note)
    app.router.add_post("/tickets/{id}/cancel/{message_id}", ticket_views.ticket_cancel)
    app.router.add_get("/attachments/{id}", ticket_views.attachment_download)
    app.router.add_get("/customers/{id}", customer_pages.customer_page)
    app.router.add_post("/customers/{id}", customer_pages.customer_update)
    app.router.add_post("/availability", availability_views.inbox_set)
    app.router.add_get("/duplicates", merge_pages.duplicates_page)
    app.router.add_post("/duplicates/{id}/distinct", merge_pages.distinct)
    app.router.add_post("/merges", merge_pages.merge)
    app.router.add_post("/merges/{id}/undo", merge_pages.undo)
    app.router.add_get("/reports", report_pages.reports_page)
    app.router.add_get("/reports/groups.csv", report_pages.reports_csv)
    app.router.add_get("/reports/tickets.csv", report_pages.tickets_export)
    app.router.add_static("/static/", HERE / "static", name="static")
    return app
