"""The survey link's page, `/survey/{token}?rating=N`.

Mail scanners open links (freescout#1743), so a GET only shows the form with the rating
preselected and records nothing; a POST records it. The POST must carry a form token bound
to a cookie the GET set (double submit, SameSite=Strict): a page elsewhere cannot post for
the customer, and a scanner that posts without the cookie is refused. The link's token is
the credential; the page shows no personal data, only the ticket's reference.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from hub.config.surveys import SurveysConfig
from hub.core.ratelimit import TokenBuckets
from hub.store import utcnow
from hub.surveys.answers import (
    Answer,
    AnswerRules,
    Survey,
    SurveyClosed,
    clean_comment,
    record_answer,
    survey_by_token,
)
from hub.surveys.tokens import RATINGS, token_hash
from hub.tickets.records import ticket_ref
from hub.web.deps import deps_of
from hub.web.survey_texts import PageTexts, texts_for

COOKIE = "hub_survey"
# A rating, a comment of 2,000 characters (Bengali, percent-encoded: 9 bytes each) and the
# form token.
MAX_FORM_BYTES = 24 * 1024
LIMITS = web.AppKey("survey_limits", TokenBuckets)
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}"
    "fieldset{border:0;padding:0;display:flex;gap:.5rem;flex-wrap:wrap}"
    "label.r{border:1px solid #888;border-radius:.4rem;padding:.5rem .9rem;cursor:pointer}"
    "textarea{width:100%;min-height:5rem;font:inherit}button{padding:.6rem 1.4rem;font:inherit}"
)


def survey_app(config: SurveysConfig | None) -> web.Application:
    config = config or SurveysConfig()
    app = web.Application()
    app[LIMITS] = TokenBuckets(config.page_requests_per_minute, burst=20)
    app.router.add_get("/{token}", show)
    app.router.add_post("/{token}", answer)
    return app


def _config(request: web.Request) -> SurveysConfig:
    on_solve = deps_of(request).on_solve
    return on_solve.planner.config if on_solve is not None else SurveysConfig()


def _limited(request: web.Request) -> web.Response | None:
    wait = request.app[LIMITS].take(request.remote or "unknown")
    if wait <= 0:
        return None
    return web.Response(
        text="Too many requests; please wait a moment.",
        status=429,
        headers={"Retry-After": str(max(1, round(wait + 0.5)))},
    )


def _form_token(secret: bytes, cookie: str, token: str) -> str:
    mac = hmac.new(secret, f"survey-form:{cookie}:{token_hash(token)}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode()


@dataclass(frozen=True)
class _View:
    survey: Survey
    texts: PageTexts
    closes: str


def _page(lang: str, title: str, body: str, status: int = 200) -> web.Response:
    response = web.Response(
        text=(
            f'<!doctype html><html lang="{html.escape(lang)}"><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
            f"<main><h1>{html.escape(title)}</h1>{body}</main></html>"
        ),
        status=status,
        content_type="text/html",
    )
    # The token is in the URL: no referrer, no caching by the way.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _not_found(texts: PageTexts) -> web.Response:
    return _page(texts.lang, texts.not_found_title, f"<p>{html.escape(texts.not_found)}</p>", 404)


async def _view(request: web.Request) -> _View | web.Response:
    deps = deps_of(request)
    async with deps.store.read() as conn:
        survey = await survey_by_token(conn, request.match_info["token"])
    if survey is None:
        return _not_found(texts_for(None))
    texts = texts_for(survey.language)
    closes_at = survey.closes_at(_config(request).change_window_days)
    if utcnow() > closes_at:
        return _page(texts.lang, texts.closed_title, f"<p>{html.escape(texts.closed)}</p>", 410)
    return _View(survey, texts, closes_at.date().isoformat())


def _rating(raw: str | None) -> int | None:
    return int(raw) if raw in {str(r) for r in RATINGS} else None


async def show(request: web.Request) -> web.Response:
    """The form, the rating from the link preselected; records nothing."""
    if (limited := _limited(request)) is not None:
        return limited
    view = await _view(request)
    if isinstance(view, web.Response):
        return view
    cookie = request.cookies.get(COOKIE, "")
    if len(cookie) != 22:
        cookie = secrets.token_urlsafe(16)
    chosen = _rating(request.query.get("rating")) or view.survey.rating
    secret = deps_of(request).secret
    response = _page(
        view.texts.lang,
        view.texts.title,
        _form_html(view, chosen, _form_token(secret, cookie, request.match_info["token"])),
    )
    response.set_cookie(
        COOKIE,
        cookie,
        path="/survey/",
        httponly=True,
        samesite="Strict",
        secure=deps_of(request).web.public_url.startswith("https:"),
        max_age=3600,
    )
    return response


def _form_html(view: _View, chosen: int | None, form_token: str) -> str:
    t, survey = view.texts, view.survey
    radios = "".join(
        f'<label class="r"><input type="radio" name="rating" value="{r}" required'
        f"{' checked' if r == chosen else ''}> {r}</label>"
        for r in RATINGS
    )
    before = (
        f"<p>{html.escape(t.answered.format(rating=survey.rating, date=view.closes))}</p>"
        if survey.rating is not None
        else f"<p>{html.escape(t.change_until.format(date=view.closes))}</p>"
    )
    comment = html.escape(survey.comment or "")
    return (
        f"<p>{html.escape(t.question.format(ref=ticket_ref(survey.ticket_id)))}</p>{before}"
        '<form method="post">'
        f'<input type="hidden" name="form_token" value="{form_token}">'
        f"<fieldset><legend>{html.escape(t.scale)}</legend>{radios}</fieldset>"
        f'<p><label>{html.escape(t.comment)}<br><textarea name="comment" maxlength="2000">'
        f"{comment}</textarea></label></p>"
        f'<button type="submit">{html.escape(t.submit)}</button></form>'
    )


async def answer(request: web.Request) -> web.Response:
    """Records the rating (or changes it, within the window)."""
    if (limited := _limited(request)) is not None:
        return limited
    view = await _view(request)
    if isinstance(view, web.Response):
        return view
    deps, t = deps_of(request), view.texts
    # A sub-app's client_max_size is not applied (the root app reads the body): bounded here.
    size = request.content_length
    if size is None or size > MAX_FORM_BYTES:
        return _page(t.lang, t.title, f"<p>{html.escape(t.pick)}</p>", 413 if size else 411)
    try:
        form = await request.post()
    except (ValueError, HttpProcessingError):
        return _page(t.lang, t.title, f"<p>{html.escape(t.pick)}</p>", 400)
    cookie = request.cookies.get(COOKIE, "")
    given = str(form.get("form_token", ""))
    expected = _form_token(deps.secret, cookie, request.match_info["token"])
    if not cookie or not hmac.compare_digest(given.encode(), expected.encode()):
        return _page(t.lang, t.expired_title, f"<p>{html.escape(t.expired)}</p>", 403)
    rating = _rating(str(form.get("rating", "")))
    if rating is None:
        return _page(t.lang, t.title, f"<p>{html.escape(t.pick)}</p>", 422)
    comment = clean_comment(str(form.get("comment", "")))
    try:
        async with deps.store.write() as conn:
            await record_answer(
                deps.store,
                conn,
                view.survey,
                Answer(rating, comment, "link"),
                now=utcnow(),
                rules=AnswerRules(_config(request).change_window_days, deps.measure.zone),
            )
    except SurveyClosed:
        return _page(t.lang, t.closed_title, f"<p>{html.escape(t.closed)}</p>", 410)
    return _page(t.lang, t.thanks_title, f"<p>{html.escape(t.thanks.format(date=view.closes))}</p>")
