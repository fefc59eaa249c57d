"""Rendering inbox pages: one autoescaping Jinja2 environment over our own templates."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from jinja2 import Environment, FileSystemLoader, select_autoescape
from multidict import MultiDictProxy

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


async def read_form(request: web.Request) -> MultiDictProxy[str | web.FileField]:
    """The posted form. A body that is no readable form (bytes that are not UTF-8, a broken
    multipart part) is the client's mistake: a 400, not an exception and a 500."""
    try:
        return await request.post()
    except (ValueError, HttpProcessingError) as exc:  # UnicodeDecodeError is a ValueError
        raise web.HTTPBadRequest(text=f"the form could not be read: {exc}") from None
