"""The web form connector: GET shows the form, POST takes form fields or JSON."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from babel import Locale
from jinja2 import Environment, FileSystemLoader, select_autoescape

from connectors.http_body import read_bounded
from connectors.webform.errors import KEY_REUSED, UNAVAILABLE, PayloadError
from connectors.webform.settings import WebFormConfig
from connectors.webform.validation import FIELDS, Submission, validate
from hub.connector import (
    BadText,
    HostileBody,
    HubContext,
    IdempotencyConflict,
    IngestUnavailable,
    TokenBuckets,
    bad_text,
    read_json,
)
from hub.messages import Address, InboundMessage, OutboundMessage

_PAGES = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent)),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class _Field:
    name: str
    label: str
    kind: str
    required: bool = False
    autocomplete: str = "off"


_FORM_FIELDS = (
    _Field("name", "Your name", "text", autocomplete="name"),
    _Field("email", "Email address", "email", autocomplete="email"),
    _Field("phone", "Phone number", "tel", autocomplete="tel"),
    _Field("subject", "Subject", "text"),
    _Field("message", "Message", "textarea", required=True),
    _Field("language", "Language for our answer", "select"),
)


class WebFormConnector:
    def __init__(self, config: WebFormConfig, ctx: HubContext) -> None:
        self.config = config
        self.ctx = ctx
        self.limiter = TokenBuckets(config.posts_per_minute, config.burst)
        self.languages = [
            (code, Locale.parse(code).get_display_name(code) or code) for code in ctx.locales
        ]
        self._app: web.Application | None = None

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, msg: OutboundMessage) -> str:
        raise NotImplementedError("a web form cannot be answered; set reply_via")

    def web_app(self) -> web.Application:
        if self._app is None:
            app = web.Application()
            app.router.add_get("/", self.show_form)
            app.router.add_post("/", self.post)
            self._app = app
        return self._app

    async def show_form(self, request: web.Request) -> web.Response:
        return self._page(values={}, errors={}, status=200)

    async def post(self, request: web.Request) -> web.Response:
        wants_json = request.content_type == "application/json"
        wait = self.limiter.take(request.remote or "unknown")
        if wait > 0:
            return self._refuse(
                wants_json,
                429,
                "Too many messages from your address; please wait a moment.",
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        try:
            fields = await self._read_fields(request, wants_json)
        except PayloadError as exc:
            if exc.field is not None:
                return self._field_refused(wants_json, exc)
            return self._refuse(wants_json, exc.status, str(exc))

        honeypot = fields.pop(self.config.honeypot_field, None)
        if honeypot:
            # Looks like success to the bot; nothing is stored.
            self.ctx.logger.info("webform honeypot tripped connector=%s", self.config.id)
            if wants_json:
                return web.json_response({"status": "received"}, status=202)
            return self._render(accepted=True)

        if key := request.headers.get("Idempotency-Key"):
            # Header bytes that are not UTF-8 arrive as lone surrogates: refused here, they
            # could be neither stored nor shown again in the form.
            if (why := bad_text(key)) is not None:
                return self._refuse(wants_json, 400, f"The Idempotency-Key header {why}.")
            fields.setdefault("idempotency_key", key)
        submission, errors = validate(
            fields,
            normalize_email=self.ctx.normalize_email,
            normalize_phone=self.ctx.normalize_phone,
            locales=self.ctx.locales,
            max_message_chars=self.config.max_message_chars,
        )
        if submission is None:
            if wants_json:
                return web.json_response({"errors": errors}, status=422)
            values = {k: v for k, v in fields.items() if isinstance(v, str)}
            return self._page(values=values, errors=errors, status=422)

        return await self._store(submission, fields, wants_json)

    async def _store(
        self, submission: Submission, fields: dict[str, Any], wants_json: bool
    ) -> web.Response:
        try:
            result = await self.ctx.submit(self._message(submission))
        except IngestUnavailable:
            return self._refuse(
                wants_json,
                503,
                UNAVAILABLE,
                headers={"Retry-After": "5"},
            )
        except IdempotencyConflict:
            # Never the first sender's ticket; the page offers a fresh key with what was typed.
            if wants_json:
                return web.json_response({"error": KEY_REUSED}, status=409)
            values = {k: v for k, v in fields.items() if isinstance(v, str)}
            values.pop("idempotency_key", None)
            return self._page(values=values, errors={"_": KEY_REUSED}, status=409)
        if wants_json:
            return web.json_response(
                {"status": "received", "ticket": result.ticket_ref, "duplicate": result.duplicate},
                status=200 if result.duplicate else 201,
            )
        return self._render(ticket=result.ticket_ref, name=submission.name, status=201)

    async def _read_fields(self, request: web.Request, wants_json: bool) -> dict[str, Any]:
        limit = self.config.max_body_bytes
        body = await read_bounded(request, limit)
        if body is None:
            raise PayloadError(413, f"The message is too large (limit {limit // 1024} KiB).")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadError(400, "The request body is not valid UTF-8.") from None
        if wants_json:
            try:
                data = read_json(body)
            except BadText as exc:
                # NUL or a broken character: never stored, never put in a mail header.
                field = (exc.field or "_").split(".")[0].split("[")[0]
                raise PayloadError(400, f"The {field} field {exc.reason}.", field) from None
            except HostileBody as exc:
                raise PayloadError(400, f"The body was refused: {exc}.") from None
            if not isinstance(data, dict):
                raise PayloadError(400, "The JSON body must be an object of form fields.")
            return data
        if request.content_type not in ("application/x-www-form-urlencoded", ""):
            raise PayloadError(415, "Send form fields (urlencoded) or JSON.")
        try:
            parsed = parse_qs(text, keep_blank_values=True, max_num_fields=len(FIELDS) + 5)
        except ValueError:
            raise PayloadError(400, "Too many form fields.") from None
        fields = {k: v[0] for k, v in parsed.items()}
        for key, value in fields.items():
            if (why := bad_text(key) or bad_text(value)) is not None:
                raise PayloadError(400, f"The {key[:40]!r} field {why}.", key[:40])
        return fields

    def _message(self, s: Submission) -> InboundMessage:
        email = Address("email", s.email, s.name) if s.email else None
        phone = Address("phone", s.phone, s.name) if s.phone else None
        sender = email or phone
        assert sender is not None
        external_id = f"key:{s.idempotency_key}" if s.idempotency_key else f"post:{uuid.uuid4()}"
        return InboundMessage(
            channel="webform",
            connector_id=self.config.id,
            external_id=external_id,
            sender=sender,
            identities=tuple(a for a in (email, phone) if a is not None),
            subject=s.subject,
            text=s.message,
            language=s.language,
            reply_to=email,
            meta={"form": self.config.id},
            client_key=s.idempotency_key is not None,
        )

    def _field_refused(self, wants_json: bool, exc: PayloadError) -> web.Response:
        field = exc.field or "_"
        if wants_json:
            return web.json_response(
                {"error": str(exc), "errors": {field: str(exc)}}, status=exc.status
            )
        return self._page(values={}, errors={field: str(exc)}, status=exc.status)

    def _refuse(
        self, wants_json: bool, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        if wants_json:
            return web.json_response({"error": message}, status=status, headers=headers)
        return self._page(values={}, errors={"_": message}, status=status, headers=headers)

    def _page(
        self,
        *,
        values: dict[str, str],
        errors: dict[str, str],
        status: int,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        return self._render(
            values={f.name: values.get(f.name, "") for f in _FORM_FIELDS},
            errors=errors,
            status=status,
            headers=headers,
            key=values.get("idempotency_key") or secrets.token_urlsafe(16),
        )

    def _render(
        self, *, status: int = 200, headers: dict[str, str] | None = None, **ctx: Any
    ) -> web.Response:
        page: dict[str, Any] = {
            "lang": self.ctx.default_locale,
            "title": self.config.title,
            "fields": _FORM_FIELDS,
            "languages": self.languages,
            "max_message": self.config.max_message_chars,
            "honeypot": self.config.honeypot_field,
            "ticket": None,
            "accepted": False,
            "errors": {},
            "values": {},
        }
        body = _PAGES.get_template("page.html").render({**page, **ctx})
        return web.Response(
            text=body, status=status, content_type="text/html", charset="utf-8", headers=headers
        )
