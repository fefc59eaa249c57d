"""The pieces the OpenAPI document is built of: operations, parameters, bodies, errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from hub.web.openapi_schemas import ref


def body_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return ref(model.__name__)


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERR = ref("Error")
_ERRORS = {
    "400": _json(ERR, "a query parameter is not valid"),
    "401": _json(ERR, "no valid bearer token"),
    "403": _json(ERR, "the token's agent may not see this (another team's)"),
    "404": _json(ERR, "no such thing"),
}


def op(
    summary: str,
    ok: tuple[str, dict[str, Any] | None, str],
    errors: tuple[str, ...] = ("400", "401", "403", "404"),
    *,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    status, schema, what = ok
    responses: dict[str, Any] = {
        status: _json(schema, what) if schema is not None else {"description": what}
    }
    for code in errors:
        responses[code] = _ERRORS.get(code) or _json(ERR, _EXTRA[code])
    out: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        out["responses"].setdefault("422", _json(ERR, _EXTRA["422"]))
    return out


_EXTRA = {
    "409": "the change cannot be made in the ticket's state (the message says why)",
    "422": "the body is not valid",
}


def query_param(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def path_param(name: str = "id") -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
