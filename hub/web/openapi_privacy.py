"""OpenAPI paths of the privacy routes (hub.web.api_privacy)."""

from __future__ import annotations

from typing import Any

from hub.web.api_privacy import EraseBody
from hub.web.openapi_parts import body_schema, op, path_param


def privacy_paths(components: dict[str, Any]) -> dict[str, Any]:
    export = {"type": "object", "description": "hub.customer-export, version 1"}
    erased = {
        "type": "object",
        "properties": {
            "customer_id": {"type": "integer"},
            "mode": {"enum": ["delete", "anonymize"]},
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
        "required": ["customer_id", "mode", "counts"],
    }
    return {
        "/customers/{id}/export": {
            "parameters": [path_param()],
            "get": op(
                "Everything the hub holds about a customer, as one JSON document (admins)",
                ("200", export, "the export"),
                ("401", "403", "404"),
            ),
        },
        "/customers/{id}/erase": {
            "parameters": [path_param()],
            "post": op(
                "Erase a customer: delete or anonymize, audited (admins)",
                ("200", erased, "erased; counts per table"),
                ("400", "401", "403", "404"),
                body=body_schema(EraseBody, components),
            ),
        },
    }
