"""The opt-out link on every greeting: a page with one button, and RFC 8058 one-click."""

from __future__ import annotations

import html

from aiohttp import web

from hub.customers.consent import OPT_OUT, read_opt_out_token, record_consent
from hub.web.deps import deps_of

_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}}
button{{padding:.6rem 1.4rem;font:inherit}}</style>
<main><h1>{title}</h1>{body}</main></html>"""


def unsubscribe_app() -> web.Application:
    app = web.Application(client_max_size=4096)
    app.router.add_get("/{token}", confirm)
    app.router.add_post("/{token}", opt_out)
    return app


def _page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=_PAGE.format(title=html.escape(title), body=body),
        status=status,
        content_type="text/html",
    )


async def confirm(request: web.Request) -> web.Response:
    deps = deps_of(request)
    token = read_opt_out_token(request.match_info["token"], deps.secret)
    if token is None:
        return _page("Link not valid", "<p>This link is not valid or was changed.</p>", 404)
    # A GET changes nothing: mail scanners follow links, people press buttons.
    return _page(
        "Stop greetings",
        f"<p>Stop birthday and anniversary greetings on {html.escape(token.channel)}?</p>"
        '<form method="post"><button type="submit">Stop them</button></form>',
    )


async def opt_out(request: web.Request) -> web.Response:
    deps = deps_of(request)
    token = read_opt_out_token(request.match_info["token"], deps.secret)
    if token is None:
        return _page("Link not valid", "<p>This link is not valid or was changed.</p>", 404)
    async with deps.store.write() as conn:
        await record_consent(
            deps.store, conn, token.customer_id, token.channel, OPT_OUT, "opt-out link"
        )
    return _page("Done", f"<p>You will get no more greetings on {html.escape(token.channel)}.</p>")
