"""Rendering inbox pages: one autoescaping Jinja2 environment over our own templates."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

PREFIX = "/inbox/"
HERE = Path(__file__).parent

_ENV = Environment(
    loader=FileSystemLoader(str(HERE / "templates")),
    autoescape=select_autoescape(["html"], default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


_ENV.filters["when"] = _when
_ENV.globals["prefix"] = PREFIX


def render_text(name: str, context: dict[str, Any]) -> str:
    return _ENV.get_template(name).render(context)


def render(name: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    return web.Response(
        text=render_text(name, context), status=status, content_type="text/html", charset="utf-8"
    )


def see_other(location: str) -> web.Response:
    """After a form post: the browser follows with a GET (no resubmit on reload)."""
    return web.Response(status=303, headers={"Location": location})
