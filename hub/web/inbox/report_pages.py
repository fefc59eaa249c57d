"""The Reports page: figures, charts (SVG rendered on the server) and tables, with filters;
and its CSV exports. For team leads (their teams) and admins; an agent gets 403."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from hub.agents.accounts import Actor
from hub.reports.charts import group_charts, messages_chart, series_chart, style_hashes
from hub.reports.output import FIELDS, flat, groups_csv
from hub.reports.report import Report, build_report
from hub.reports.request import BUCKETS, GROUPS, BadReport, ReportForm, ReportRequest
from hub.reports.ticket_export import ticket_rows, tickets_csv
from hub.web.api_reports import allowed, checked_request, report_form
from hub.web.deps import WebDeps, deps_of
from hub.web.inbox.auth import CSP, session_of
from hub.web.inbox.pages import render

DEFAULT_DAYS = 30


def _form(request: web.Request, deps: WebDeps) -> ReportForm:
    """The query's parameters; without dates, the last 30 days in the reporting zone."""
    if "from" in request.query or "to" in request.query:
        return report_form(request, deps)
    today = datetime.now(ZoneInfo(deps.reports_zone)).date()
    defaults = {"from": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
                "to": today.isoformat(), "bucket": "day", "group": "team"}  # fmt: skip
    query = {**defaults, **request.query}
    return report_form(request.clone(rel_url=request.rel_url.with_query(query)), deps)


def _refused(actor: Actor, message: str, status: int) -> web.Response:
    return render("error.html", {"actor": actor, "status": status, "message": message},
                  status=status)  # fmt: skip


async def _checked(
    request: web.Request,
) -> tuple[ReportRequest | None, web.Response | None, ReportForm]:
    """The request the query asks for, or the page that refuses it."""
    deps, actor = deps_of(request), session_of(request).actor
    empty = ReportForm("", "", deps.reports_zone)
    if not actor.sees_reports:
        return None, _refused(actor, "Reports are for team leads and admins.", 403), empty
    try:
        form = _form(request, deps)
        if not allowed(actor, form):
            return None, _refused(actor, "A team lead sees their own teams.", 403), form
        return checked_request(actor, form, deps), None, form
    except BadReport as exc:
        return None, _refused(actor, str(exc), 400), empty


async def _report(request: web.Request) -> tuple[Report | None, web.Response | None, ReportForm]:
    req, refused, form = await _checked(request)
    if req is None:
        return None, refused, form
    deps = deps_of(request)
    return await build_report(deps.store, req, deps.reports_zone), None, form


async def reports_page(request: web.Request) -> web.Response:
    report, refused, form = await _report(request)
    if refused is not None:
        return refused
    assert report is not None
    session = session_of(request)
    query = {"from": form.start, "to": form.end, "tz": form.zone, "basis": form.basis,
             **form.filters}  # fmt: skip
    if form.group:
        query["group"] = form.group
    charts = [c for c in (series_chart(report), messages_chart(report)) if c]
    charts += group_charts(report)
    response = render(
        "reports.html",
        {
            "actor": session.actor,
            "csrf": session.csrf_token,
            "form": form,
            "groups": GROUPS,
            "buckets": BUCKETS,
            "report": report,
            "rows": _rows(report),
            "fields": FIELDS,
            "charts": charts,
            "export_query": urlencode(query),
        },
    )
    styles = " ".join(style_hashes(charts))
    response.headers["Content-Security-Policy"] = CSP.replace(
        "style-src 'self'", f"style-src 'self' {styles}"
    )
    return response


def _rows(report: Report) -> list[tuple[str, dict[str, Any]]]:
    rows = [("Total", flat(report.total))]
    if report.previous is not None:
        rows.append(("Previous period", flat(report.previous)))
    rows += [(name, flat(f)) for name, f in report.groups.items()]
    return rows


async def reports_csv(request: web.Request) -> web.Response:
    report, refused, _ = await _report(request)
    if refused is not None:
        return refused
    assert report is not None
    return _csv(groups_csv(report), f"report-{report.request.group or 'total'}")


async def tickets_export(request: web.Request) -> web.Response:
    req, refused, _ = await _checked(request)
    if req is None:
        assert refused is not None
        return refused
    deps = deps_of(request)
    try:
        rows = await ticket_rows(deps.store, req, deps.reports.max_export_rows)
    except BadReport as exc:
        return _refused(session_of(request).actor, str(exc), 400)
    return _csv(tickets_csv(rows), "tickets")


def _csv(text: str, name: str) -> web.Response:
    return web.Response(
        text=text,
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
