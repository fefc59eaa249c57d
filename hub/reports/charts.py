"""The Reports page's charts, rendered here as SVG with pygal: no script, no CDN, nothing
the browser fetches. Text in them (agents' names, tags) is escaped by pygal's XML writer."""

from __future__ import annotations

import base64
import hashlib
import html
import re

import pygal
from pygal.style import Style

from hub.reports.report import Report

_STYLE = Style(
    background="white",
    plot_background="white",
    font_family="system-ui, sans-serif",
    colors=("#1f6feb", "#2da44e", "#d1242f", "#8250df", "#bf8700"),
)


def _config() -> pygal.Config:
    config = pygal.Config()
    config.js = []  # pygal's tooltips load a script from a CDN: none here
    config.disable_xml_declaration = True
    config.style = _STYLE
    config.width, config.height = 800, 300
    config.legend_at_bottom = True
    config.truncate_label = 20
    return config


# pygal writes its config into an inline <script> even without its scripts: dropped, the
# page runs no script (its CSP would refuse it anyway). Text nodes are XML-escaped, so
# nothing a customer or agent wrote can look like this element.
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)


def _svg(chart: pygal.Graph) -> str:
    return _SCRIPT.sub("", str(chart.render(is_unicode=True)))


def series_chart(report: Report) -> str | None:
    """Tickets created, solved and reopened per bucket (a line each)."""
    if not report.series:
        return None
    title = "Tickets per " + (report.request.bucket or "day")
    chart = pygal.Line(_config(), title=title, x_label_rotation=30)
    chart.x_labels = [p.label for p in report.series]
    chart.add("created", [p.figures.created for p in report.series])
    chart.add("solved", [p.figures.solved for p in report.series])
    chart.add("reopened", [p.figures.reopened for p in report.series])
    return _svg(chart)


def messages_chart(report: Report) -> str | None:
    if not report.series:
        return None
    chart = pygal.Bar(_config(), title="Messages", x_label_rotation=30)
    chart.x_labels = [p.label for p in report.series]
    chart.add("incoming", [p.figures.messages_in for p in report.series])
    chart.add("outgoing", [p.figures.messages_out for p in report.series])
    return _svg(chart)


def group_charts(report: Report) -> list[str]:
    """Bars per group: tickets solved, and first response median and p90 in hours."""
    if not report.groups:
        return []
    names = list(report.groups)
    by = report.request.group or "group"
    solved = pygal.HorizontalBar(_config(), title=f"Solved by {by}")
    solved.x_labels = names
    solved.add("solved", [f.solved for f in report.groups.values()])
    first = pygal.HorizontalBar(_config(), title=f"First response by {by} (hours)")
    first.x_labels = names
    first.add("median", [_hours(f.first_response.median) for f in report.groups.values()])
    first.add("p90", [_hours(f.first_response.p90) for f in report.groups.values()])
    return [_svg(solved), _svg(first)]


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


_STYLE_ELEMENT = re.compile(r"<style\b[^>]*>(.*?)</style>", re.S)


def style_hashes(svgs: list[str]) -> list[str]:
    """CSP sources ('sha256-...') for the charts' own <style> elements: the page allows
    exactly these inline styles and no other (the inbox's CSP has no 'unsafe-inline')."""
    out = []
    for svg in svgs:
        for css in _STYLE_ELEMENT.findall(svg):
            # The browser hashes the element's text as parsed: entities decoded.
            digest = hashlib.sha256(html.unescape(css).encode()).digest()
            out.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return out
