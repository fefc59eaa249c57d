"""The webhook part of the OpenAPI document: its paths and component schemas."""

from __future__ import annotations

from typing import Any

from hub.config.webhooks import ENDPOINT_ID
from hub.web.api_webhooks import WebhookCreate
from hub.web.openapi_parts import body_schema, op
from hub.web.openapi_schemas import INT, STR, TIME, json_object, nullable, ref


def webhook_schemas() -> dict[str, Any]:
    endpoint = {
        "id": STR,
        "url": STR,
        "events": {"type": "array", "items": STR},
        "source": {"enum": ["config", "api"]},
        "allow_private": {"type": "boolean"},
        "max_failures": INT,
        "max_attempts": INT,
        "timeout_seconds": {"type": "number"},
        "status": {"enum": ["active", "disabled"]},
        "disabled_reason": nullable(STR),
        "consecutive_failures": INT,
        "created_at": TIME,
        "disabled_at": nullable(TIME),
    }
    attempt = json_object(
        {
            "attempted_at": TIME,
            "status_code": nullable(INT),
            "error": nullable(STR),
            "duration_ms": INT,
        }
    )
    delivery = json_object(
        {
            "id": INT,
            "event_id": INT,
            "webhook_id": nullable(STR),
            "type": nullable(STR),
            "status": {"enum": ["pending", "delivered", "failed"]},
            "attempts": INT,
            "last_status": nullable(INT),
            "last_error": nullable(STR),
            "next_attempt_at": nullable(TIME),
            "created_at": TIME,
            "delivered_at": nullable(TIME),
            "log": {"type": "array", "items": attempt},
        }
    )
    return {
        "Webhook": json_object(endpoint),
        "WebhookCreated": json_object({**endpoint, "secret": STR}),
        "WebhookDelivery": delivery,
    }


def webhook_paths(components: dict[str, Any]) -> dict[str, Any]:
    """The /webhooks paths; their schemas are added to `components`."""
    components.update(webhook_schemas())
    hook = {
        "name": "webhook_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": ENDPOINT_ID},
    }
    delivery = {
        "name": "delivery_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
    listed = json_object({"webhooks": {"type": "array", "items": ref("Webhook")}})
    log = json_object({"deliveries": {"type": "array", "items": ref("WebhookDelivery")}})
    queued = json_object({"id": INT, "status": {"enum": ["pending"]}})
    params = [
        {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
        {"name": "status", "in": "query", "required": False,
         "schema": {"enum": ["pending", "delivered", "failed"]}},
    ]  # fmt: skip
    return {
        "/webhooks": {
            "get": op("Webhook endpoints (admins)", ("200", listed, "endpoints"), ("401", "403")),
            "post": op(
                "Create an endpoint (admins); the answer holds its secret, shown this once",
                ("201", ref("WebhookCreated"), "created"),
                ("400", "401", "403", "409"),
                body=body_schema(WebhookCreate, components),
            ),
        },
        "/webhooks/{webhook_id}": {
            "parameters": [hook],
            "get": op(
                "One endpoint (admins)", ("200", ref("Webhook"), "it"), ("401", "403", "404")
            ),
            "delete": op(
                "Delete an API-created endpoint and its log (admins)",
                ("204", None, "deleted"),
                ("401", "403", "404", "409"),
            ),
        },
        "/webhooks/{webhook_id}/enable": {
            "parameters": [hook],
            "post": op(
                "Enable (failures forgotten; waiting events go out) (admins)",
                ("200", ref("Webhook"), "enabled"),
                ("401", "403", "404"),
            ),
        },
        "/webhooks/{webhook_id}/disable": {
            "parameters": [hook],
            "post": op(
                "Disable; events wait for it (admins). Body optional: {reason}",
                ("200", ref("Webhook"), "disabled"),
                ("400", "401", "403", "404", "422"),
            ),
        },
        "/webhooks/{webhook_id}/deliveries": {
            "parameters": [hook],
            "get": op(
                "The delivery log, newest first, each with its attempts (admins)",
                ("200", log, "deliveries"),
                ("400", "401", "403", "404"),
                params=params,
            ),
        },
        "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": {
            "parameters": [hook, delivery],
            "post": op(
                "Deliver again, same webhook-id, a fresh round of attempts (admins)",
                ("202", queued, "queued"),
                ("401", "403", "404"),
            ),
        },
    }
