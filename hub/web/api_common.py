"""What every REST handler shares: who is asking, parameters, bodies, errors, JSON shapes."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.agents.accounts import Actor
from hub.core.edge_text import parse_id
from hub.core.guarded_json import BadText, HostileBody, bad_text, loads
from hub.core.safe_html import sanitize_html
from hub.store import utcnow
from hub.tickets.queries import sla_state
from hub.tickets.records import ticket_ref
from hub.web.models import problems

ACTOR = web.RequestKey("api_actor", Actor)
MAX_PAGE = 200
B = TypeVar("B", bound=BaseModel)


def actor_of(request: web.Request) -> Actor:
    return request[ACTOR]


def error(status: int, message: str, **extra: Any) -> web.HTTPException:
    """An HTTP error with a JSON body {"error": ...}, to raise."""
    cls = _BY_STATUS[status]
    return cls(text=json.dumps({"error": message, **extra}), content_type="application/json")


_BY_STATUS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    415: web.HTTPUnsupportedMediaType,
    422: web.HTTPUnprocessableEntity,
}


def text_param(request: web.Request, name: str, max_len: int = 200) -> str | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > max_len or bad_text(raw):
        raise error(400, f"{name} must be printable text of at most {max_len} characters")
    return raw


def int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise error(400, f"{name} must be an integer") from None
    if not lo <= value <= hi:
        raise error(400, f"{name} must be between {lo} and {hi}")
    return value


def path_id(request: web.Request, name: str = "id") -> int:
    found = parse_id(request.match_info[name])
    if found is None:
        raise error(404, "not found")
    return found


async def read_body(request: web.Request, model: type[B]) -> B:
    try:
        data = loads(await request.read() or b"null")
    except BadText as exc:
        # PostgreSQL text cannot hold NUL, and a lone surrogate cannot be stored as UTF-8.
        raise error(422, str(exc), field=exc.field) from None
    except HostileBody as exc:
        raise error(400, f"the body must be JSON within limits: {exc}") from None
    if not isinstance(data, dict):
        raise error(422, "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(422, "the body is not valid", problems=problems(exc)) from None


def plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def row_json(row: Any, *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: plain(v) for k, v in row._mapping.items() if k not in drop}


def ticket_json(row: Any) -> dict[str, Any]:
    """A ticket row (or a list_tickets dict) as the API shows it."""
    data = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    data.pop("open_key", None)
    data.pop("conversation", None)
    out = {k: plain(v) for k, v in data.items()}
    out["ref"] = ticket_ref(data["id"])
    out["tags"] = list(data.get("tags") or [])
    # The nearest SLA deadline's badge, as the inbox shows it (hub.tickets.queries).
    out["sla_state"] = sla_state(data.get("sla_due_at"), utcnow())
    return out


def message_json(row: Any, delivery: str | None) -> dict[str, Any]:
    out = row_json(row, drop=("meta", "external_id", "conversation"))
    # Raw customer HTML never leaves the hub unsanitized, not even to API clients.
    out["body_html"] = sanitize_html(row.body_html)
    out["delivery"] = delivery
    out["send_at"] = (row.meta or {}).get("send_at")
    return out
