"""OpenAPI paths of the assignment routes (hub.web.api_availability)."""

from __future__ import annotations

from typing import Any

from hub.web.api_availability import AvailabilityBody
from hub.web.openapi_parts import body_schema, op
from hub.web.openapi_schemas import TIME, json_object, nullable


def assignment_paths(components: dict[str, Any]) -> dict[str, Any]:
    availability = json_object(
        {"availability": {"enum": ["online", "away", "off"]}, "since": nullable(TIME)}
    )
    return {
        "/me/availability": {
            "get": op(
                "The calling agent's availability for automatic assignment",
                ("200", availability, "it (off until first set)"),
                ("401", "403"),
            ),
            "put": op(
                "Set it: only online agents get tickets; away or off for a team's "
                "reassign_after passes their tickets on",
                ("200", availability, "the availability now"),
                ("400", "401", "403"),
                body=body_schema(AvailabilityBody, components),
            ),
        },
    }
