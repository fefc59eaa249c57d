"""The component schemas of the OpenAPI document: what the API's responses look like."""

from __future__ import annotations

from typing import Any

from hub.tickets.records import STATUSES

PRIORITIES = ["low", "normal", "high", "urgent"]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


STR = {"type": "string"}
INT = {"type": "integer"}
TIME = {"type": "string", "format": "date-time"}
DATE = {"type": "string", "format": "date"}


def json_object(props: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": [k for k in props if k not in optional],
    }


def component_schemas() -> dict[str, Any]:
    ticket = json_object(
        {
            "id": INT,
            "ref": {"type": "string", "pattern": "^T-[0-9]+$"},
            "customer_id": INT,
            "customer_name": nullable(STR),
            "channel": STR,
            "connector_id": STR,
            "team_id": STR,
            "status": {"enum": list(STATUSES)},
            "priority": {"enum": PRIORITIES},
            "subject": nullable(STR),
            "tags": {"type": "array", "items": STR},
            "assignee": nullable(STR),
            "created_at": TIME,
            "updated_at": TIME,
            "last_message_at": TIME,
            "sla_due_at": {**nullable(TIME), "description": "the nearest SLA deadline not met"},
            "sla_state": {
                **nullable({"enum": ["breached", "due_soon", "on_track"]}),
                "description": "breached: a deadline passed unmet; due_soon: within the hour",
            },
        },
        optional=("customer_name",),
    )
    sla_clock = json_object(
        {
            "kind": {"enum": ["first_response", "next_response", "resolution"]},
            "cycle": INT,
            "label": STR,
            "policy": STR,
            "calendar": STR,
            "status": {"enum": ["pending", "achieved", "breached", "cancelled"]},
            "started_at": TIME,
            "due_at": {**nullable(TIME), "description": "null while paused or stopped"},
            "paused": {"type": "boolean"},
            "achieved_at": nullable(TIME),
            "breached_at": nullable(TIME),
        }
    )
    sla_event = json_object({"at": TIME, "what": STR, "detail": STR})
    ticket_sla = json_object(
        {
            "clocks": {"type": "array", "items": ref("SlaClock")},
            "timeline": {"type": "array", "items": ref("SlaEvent")},
        }
    )
    message = json_object(
        {
            "id": INT,
            "channel": STR,
            "connector_id": STR,
            "direction": {"enum": ["in", "out"]},
            "ticket_id": nullable(INT),
            "customer_id": nullable(INT),
            "sender": nullable(STR),
            "subject": nullable(STR),
            "body_text": STR,
            "body_html": {**nullable(STR), "description": "sanitized (nh3)"},
            "language": nullable(STR),
            "auto_submitted": {"type": "boolean"},
            "received_at": TIME,
            "created_at": TIME,
            "delivery": nullable({"enum": ["pending", "sent", "dead", "cancelled"]}),
            "send_at": {**nullable(TIME), "description": "a reply scheduled for later"},
            "delivery_status": {
                **nullable({"enum": ["sent", "delivered", "read", "played", "failed"]}),
                "description": "what the channel reported about one of ours",
            },
            "edited_at": {**nullable(TIME), "description": "when the sender edited it"},
            "deleted_at": {**nullable(TIME), "description": "when the sender deleted it"},
        }
    )
    note = json_object(
        {
            "id": INT,
            "ticket_id": INT,
            "agent_id": nullable(INT),
            "author": STR,
            "body_text": STR,
            "created_at": TIME,
        }
    )
    customer = json_object(
        {
            "id": INT,
            "display_name": nullable(STR),
            "locale": STR,
            "timezone": STR,
            "gender": nullable(STR),
            "birthday": nullable(DATE),
            "anniversary": nullable(DATE),
            "address": {"type": "object"},
            "tags": {"type": "array", "items": STR},
            "merged_into": nullable(INT),
            "created_at": TIME,
            "updated_at": TIME,
        }
    )
    identity = json_object(
        {
            "id": INT,
            "customer_id": INT,
            "kind": STR,
            "value": STR,
            "display_name": nullable(STR),
            "unreachable": {"type": "boolean"},
            "created_at": TIME,
        }
    )
    consent = json_object(
        {"customer_id": INT, "channel": STR, "status": STR, "source": STR, "recorded_at": TIME}
    )
    purchase = json_object(
        {
            "id": INT,
            "customer_id": INT,
            "order_ref": STR,
            "amount": {"type": "string", "description": "decimal"},
            "currency": STR,
            "purchased_at": TIME,
            "items": nullable(STR),
            "created_at": TIME,
        }
    )
    detail = {
        "allOf": [
            ref("Customer"),
            json_object(
                {
                    "identities": {"type": "array", "items": ref("Identity")},
                    "consents": {"type": "array", "items": ref("Consent")},
                    "tickets": {"type": "array", "items": ref("Ticket")},
                    "purchases": {"type": "array", "items": ref("Purchase")},
                }
            ),
        ]
    }
    assignment = json_object(
        {
            "id": INT,
            "ticket_id": INT,
            "assignee": STR,
            "previous": nullable(STR),
            "reason": {"enum": ["opened", "waiting", "reassigned", "manual"]},
            "created_at": TIME,
        }
    )
    survey = json_object(
        {
            "id": INT,
            "status": {"enum": ["queued", "skipped"]},
            "note": nullable(STR),
            "channel": STR,
            "agent": nullable(STR),
            "team_id": STR,
            "send_at": nullable(TIME),
            "created_at": TIME,
            "rating": nullable({"type": "integer", "minimum": 1, "maximum": 5}),
            "comment": nullable(STR),
            "via": nullable({"enum": ["link", "button"]}),
            "answered_at": nullable(TIME),
            "changes": INT,
        }
    )
    ticket_detail = {
        "allOf": [
            ref("Ticket"),
            json_object(
                {
                    "messages": {"type": "array", "items": ref("Message")},
                    "notes": {"type": "array", "items": ref("Note")},
                    # Automatic assignments (hub.assignment), oldest first.
                    "assignments": {"type": "array", "items": assignment},
                    "sla": ref("TicketSla"),
                    # CSAT surveys (hub.surveys), one per solve cycle, oldest first.
                    "surveys": {"type": "array", "items": survey},
                }
            ),
        ]
    }
    canned = json_object({"id": INT, "name": STR, "team_id": nullable(STR), "body": STR})
    team = json_object({"id": STR, "name": STR, "agents": {"type": "array", "items": STR}})
    error = json_object(
        {"error": STR, "problems": {"type": "array", "items": {"type": "object"}}},
        optional=("problems",),
    )
    duplicate = json_object(
        {
            "id": INT,
            "customer_id": INT,
            "other_customer_id": INT,
            "customer_name": nullable(STR),
            "other_name": nullable(STR),
            "reason": STR,
            "status": STR,
            "created_at": TIME,
            # hub.dedup: the pair's score 0..1 and what a reviewer should check.
            "score": nullable({"type": "number", "minimum": 0, "maximum": 1}),
            "reasons": nullable({"type": "array", "items": STR}),
            "decided_by": nullable(STR),
            "decided_at": nullable(TIME),
        }
    )
    distinct = json_object({"id": INT, "customer_id": INT, "other_customer_id": INT, "status": STR})
    merge = json_object({"merge_id": INT, "survivor_id": INT, "merged_id": INT})
    return {
        "Duplicate": duplicate,
        "DuplicateDecision": distinct,
        "MergeResult": merge,
        "Ticket": ticket,
        "TicketDetail": ticket_detail,
        "SlaClock": sla_clock,
        "SlaEvent": sla_event,
        "TicketSla": ticket_sla,
        "Message": message,
        "Note": note,
        "Customer": customer,
        "CustomerDetail": detail,
        "Identity": identity,
        "Consent": consent,
        "Purchase": purchase,
        "CannedResponse": canned,
        "Team": team,
        "Error": error,
    }
