"""The reports' part of the OpenAPI document (hub.web.api_reports)."""

from __future__ import annotations

from typing import Any

from hub.reports.output import FIELDS
from hub.reports.request import BUCKETS, GROUPS
from hub.web.openapi_schemas import DATE, PRIORITIES, STR, json_object, nullable, ref

_NUMBER = nullable({"type": "number"})
_TEXT = {"type": "string", "minLength": 1, "maxLength": 100}


def _q(name: str, schema: dict[str, Any], description: str, required: bool = False) -> Any:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


_PARAMS = [
    _q("from", DATE, "the first day, in the viewer's time zone", required=True),
    _q("to", DATE, "the last day (inclusive)", required=True),
    _q("tz", {"type": "string", "maxLength": 64}, "IANA time zone (default: reports')"),
    _q("group", {"enum": list(GROUPS)}, "one row per team, channel, agent, tag or priority"),
    _q("bucket", {"enum": list(BUCKETS)}, "a time series by hour, day, week or month"),
    _q("basis", {"enum": ["calendar", "business"]}, "durations in calendar or business time"),
    _q("team", _TEXT, "only this team"),
    _q("channel", _TEXT, "only this channel"),
    _q("agent", _TEXT, "only this agent's events (who replied)"),
    _q("tag", _TEXT, "only tickets with this tag"),
    _q("priority", {"enum": PRIORITIES}, "only this priority"),
]


def _csv(what: str) -> dict[str, Any]:
    return {"description": what, "content": {"text/csv": {"schema": {"type": "string"}}}}


def report_components() -> dict[str, Any]:
    figures = {
        "type": "object",
        "properties": {name: _NUMBER for name in FIELDS},
        "required": list(FIELDS),
    }
    group = {**figures, "properties": {"group": STR, **figures["properties"]}}
    group["required"] = ["group", *FIELDS]
    point = {
        **figures,
        "properties": {"start": {"type": "string"}, "label": STR, **figures["properties"]},
    }
    point["required"] = ["start", "label", *FIELDS]
    report = json_object(
        {
            "from": DATE,
            "to": DATE,
            "timezone": STR,
            "group": nullable({"enum": list(GROUPS)}),
            "bucket": nullable({"enum": list(BUCKETS)}),
            "basis": {"enum": ["calendar", "business"]},
            "filters": {"type": "object", "additionalProperties": STR},
            "source": {"enum": ["rollup", "events"]},
            "total": ref("ReportFigures"),
            "groups": {"type": "array", "items": ref("ReportGroup")},
            "previous": nullable(ref("ReportFigures")),
            "change": nullable({"type": "object", "additionalProperties": _NUMBER}),
            "series": {"type": "array", "items": ref("ReportPoint")},
        }
    )
    return {
        "ReportFigures": figures,
        "ReportGroup": group,
        "ReportPoint": point,
        "Report": report,
    }


def report_paths(op: Any) -> dict[str, Any]:
    """`op` is hub.web.openapi's operation builder."""
    errors = ("400", "401", "403")
    csv_ops = {
        "/reports/groups.csv": "One row per group, then the total (CSV)",
        "/reports/series.csv": "One row per time bucket (CSV; bucket required)",
        "/reports/tickets.csv": "One row per ticket opened in the range, with its metrics (CSV)",
    }
    paths: dict[str, Any] = {
        "/reports": {
            "get": op(
                "Report figures: totals, groups, the previous period, a time series "
                "(team leads: their teams; admins)",
                ("200", ref("Report"), "the report"),
                errors,
                params=_PARAMS,
            )
        }
    }
    for path, summary in csv_ops.items():
        operation = op(summary, ("200", None, "CSV"), errors, params=_PARAMS)
        operation["responses"]["200"] = _csv("CSV with a header row")
        paths[path] = {"get": operation}
    return paths
