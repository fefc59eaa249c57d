"""Reports over the API, for team leads (their teams) and admins: the figures as JSON,
CSV exports per group, per time bucket and per ticket. An agent gets 403."""

from __future__ import annotations

from aiohttp import web

from hub.agents.accounts import Actor
from hub.reports.output import groups_csv, report_json, series_csv
from hub.reports.report import Report, build_report
from hub.reports.request import GROUPS, BadReport, ReportForm, ReportRequest, build_request
from hub.reports.ticket_export import ticket_rows, tickets_csv
from hub.web.api_common import actor_of, error, text_param
from hub.web.deps import WebDeps, deps_of


def report_form(request: web.Request, deps: WebDeps) -> ReportForm:
    """The parameters, from a query string (the API's and the Reports page's)."""
    start, end = text_param(request, "from", 10), text_param(request, "to", 10)
    if start is None or end is None:
        raise BadReport("from and to are required (YYYY-MM-DD, in the viewer's time zone)")
    filters = {k: v for k in GROUPS if (v := text_param(request, k, 100)) is not None}
    return ReportForm(
        start=start,
        end=end,
        zone=text_param(request, "tz", 64) or deps.reports_zone,
        group=text_param(request, "group", 16),
        bucket=text_param(request, "bucket", 16),
        basis=text_param(request, "basis", 16) or "calendar",
        filters=filters,
    )


def allowed(actor: Actor, form: ReportForm) -> bool:
    """Leads and admins; a lead only for their own teams."""
    if not actor.sees_reports:
        return False
    teams, team = actor.report_teams, form.filters.get("team")
    return teams is None or team is None or team in teams


def checked_request(actor: Actor, form: ReportForm, deps: WebDeps) -> ReportRequest:
    return build_request(form, actor.report_teams, deps.reports.max_days)


async def _report(request: web.Request) -> Report:
    deps, actor = deps_of(request), actor_of(request)
    if not actor.sees_reports:
        raise error(403, "reports are for team leads and admins")
    try:
        form = report_form(request, deps)
        if not allowed(actor, form):
            raise error(403, "a team lead sees the reports of their own teams")
        req = checked_request(actor, form, deps)
    except BadReport as exc:
        raise error(400, str(exc)) from None
    return await build_report(deps.store, req, deps.reports_zone)


async def get_report(request: web.Request) -> web.Response:
    return web.json_response(report_json(await _report(request)))


def _csv(text: str, name: str) -> web.Response:
    return web.Response(
        text=text,
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


async def get_report_csv(request: web.Request) -> web.Response:
    report = await _report(request)
    return _csv(groups_csv(report), f"report-{report.request.group or 'total'}")


async def get_series_csv(request: web.Request) -> web.Response:
    if text_param(request, "bucket", 16) is None:
        raise error(400, "bucket is required (hour, day, week or month)")
    return _csv(series_csv(await _report(request)), "report-series")


async def get_tickets_csv(request: web.Request) -> web.Response:
    deps, actor = deps_of(request), actor_of(request)
    if not actor.sees_reports:
        raise error(403, "reports are for team leads and admins")
    try:
        form = report_form(request, deps)
        if not allowed(actor, form):
            raise error(403, "a team lead sees the reports of their own teams")
        rows = await ticket_rows(
            deps.store, checked_request(actor, form, deps), deps.reports.max_export_rows
        )
    except BadReport as exc:
        raise error(400, str(exc)) from None
    return _csv(tickets_csv(rows), "tickets")
