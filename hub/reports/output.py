"""A report as the API, the CLI and the CSV exports give it: one flat row of figures per
group, from one function, so every output shows the same numbers to the unit."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from hub.reports.buckets import label
from hub.reports.figures import Figures, figures
from hub.reports.report import Report

TOTAL = "(total)"


def flat(f: Figures) -> dict[str, Any]:
    """The figures as one row: durations as <name>_count, _mean_s, _median_s, _p90_s."""
    out: dict[str, Any] = {}
    for key, value in asdict(f).items():
        if isinstance(value, dict):
            out[f"{key}_count"] = value["count"]
            for stat in ("mean", "median", "p90"):
                out[f"{key}_{stat}_s"] = value[stat]
        else:
            out[key] = value
    return out


# Every column of a report row, in order.
FIELDS = tuple(flat(figures({}, business=False)))


def _change(now: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """Now minus the previous period, where both are known."""
    out: dict[str, Any] = {}
    for key, value in now.items():
        old = before.get(key)
        if isinstance(value, int | float) and isinstance(old, int | float):
            out[key] = round(value - old, 1)
        else:
            out[key] = None
    return out


def report_json(report: Report) -> dict[str, Any]:
    req = report.request
    total = flat(report.total)
    previous = flat(report.previous) if report.previous is not None else None
    unit = req.bucket
    return {
        "from": req.local_start_date().isoformat(),
        "to": (req.local_end_date() - timedelta(days=1)).isoformat(),
        "timezone": req.zone.key,
        "group": req.group,
        "bucket": unit,
        "basis": req.basis,
        "filters": dict(req.filters),
        "source": report.source,
        "total": total,
        "groups": [{"group": name, **flat(f)} for name, f in report.groups.items()],
        "previous": previous,
        "change": _change(total, previous) if previous is not None else None,
        "series": [
            {"start": p.start.isoformat(), "label": p.label, **flat(p.figures)}
            for p in report.series
        ],
    }


def cell(value: Any) -> Any:
    return "" if value is None else value


def groups_csv(report: Report) -> str:
    """One row per group (the report's grouping), then the total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    first = report.request.group or "group"
    writer.writerow([first, *FIELDS])
    for name, f in report.groups.items():
        row = flat(f)
        writer.writerow([safe(name), *(cell(row[k]) for k in FIELDS)])
    total = flat(report.total)
    writer.writerow([TOTAL, *(cell(total[k]) for k in FIELDS)])
    return out.getvalue()


def series_csv(report: Report) -> str:
    """One row per time bucket."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["bucket", *FIELDS])
    unit = report.request.bucket or "day"
    for p in report.series:
        row = flat(p.figures)
        writer.writerow(
            [label(p.start, unit, report.request.zone), *(cell(row[k]) for k in FIELDS)]
        )
    return out.getvalue()


def safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection): agents' names
    and tags come from people."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# What the command line shows without --json: the headline figures, one column per group.
_TEXT_ROWS = (
    ("created", "created"),
    ("solved", "solved"),
    ("solved_tickets", "solved (tickets)"),
    ("reopened", "reopened"),
    ("backlog", "backlog"),
    ("messages_in", "messages in"),
    ("messages_out", "messages out"),
    ("first_response_median_s", "first response median s"),
    ("first_response_p90_s", "first response p90 s"),
    ("next_response_median_s", "next response median s"),
    ("resolution_median_s", "resolution median s"),
    ("sla_achieved_pct", "SLA achieved %"),
    ("csat_pct", "CSAT %"),
    ("csat_response_rate", "CSAT response rate %"),
    ("bot_containment_pct", "bot containment %"),
)


def text_table(report: Report) -> str:
    req = report.request
    columns = [(TOTAL, flat(report.total))] + [(g, flat(f)) for g, f in report.groups.items()]
    if report.previous is not None:
        columns.insert(1, ("(previous)", flat(report.previous)))
    width = max(len(title) for _, title in _TEXT_ROWS) + 2
    lines = [
        f"{req.local_start_date()} .. {req.local_end_date() - timedelta(days=1)} "
        f"({req.zone.key}, {req.basis} time, from the {report.source})",
        " " * width + "".join(f"{name[:14]:>15}" for name, _ in columns),
    ]
    for key, title in _TEXT_ROWS:
        cells = "".join(f"{_show(row[key]):>15}" for _, row in columns)
        lines.append(f"{title:<{width}}{cells}")
    return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    return "-" if value is None else str(value)
