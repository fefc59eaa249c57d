"""The OpenAPI 3.1 document of /api/v1/. Request bodies come from the same pydantic models
the handlers validate with, so the document cannot drift from what is accepted."""

from __future__ import annotations

from functools import cache
from typing import Any

from hub.customers.records import CustomerCreate, IdentityIn, PurchaseIn
from hub.customers.views import CustomerPatch
from hub.tickets.queries import SLA_FILTERS, SORTS
from hub.tickets.records import STATUSES
from hub.web.models import CannedBody, MergeBody, NoteBody, ReplyBody, TicketPatch
from hub.web.openapi_assignment import assignment_paths
from hub.web.openapi_parts import body_schema, op, path_param, query_param
from hub.web.openapi_privacy import privacy_paths
from hub.web.openapi_reports import report_components, report_paths
from hub.web.openapi_schemas import (
    INT,
    PRIORITIES,
    STR,
    TIME,
    component_schemas,
    json_object,
    nullable,
    ref,
)
from hub.web.openapi_webhooks import webhook_paths

# Short names: the path table below is read as a table.
_body_schema, _op, _q, _path = body_schema, op, query_param, path_param


_PAGE = [
    _q("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
    _q("offset", {"type": "integer", "minimum": 0, "maximum": 10**9}),
]
_TEXT = {"type": "string", "maxLength": 200}


@cache
def openapi_document(server_url: str) -> dict[str, Any]:
    c = component_schemas()
    patch, reply = _body_schema(TicketPatch, c), _body_schema(ReplyBody, c)
    note, canned_body = _body_schema(NoteBody, c), _body_schema(CannedBody, c)
    customer_patch = _body_schema(CustomerPatch, c)
    merge_body = _body_schema(MergeBody, c)
    new_customer = _body_schema(CustomerCreate, c)
    new_identity = _body_schema(IdentityIn, c)
    new_purchase = _body_schema(PurchaseIn, c)

    def arr(key: str, item: str) -> dict[str, Any]:
        return json_object({key: {"type": "array", "items": ref(item)}})

    ticket_filters = [
        _q("status", {"enum": ["open", *STATUSES]}, "open: new, open and pending"),
        _q("channel", _TEXT),
        _q("assignee", _TEXT, "a username"),
        _q("priority", {"enum": PRIORITIES}),
        _q("tag", _TEXT),
        _q("team", _TEXT),
        _q("customer", {"type": "integer", "minimum": 0}),
        _q("q", _TEXT, "customer name, email, phone, ticket number or text"),
        _q("sla", {"enum": list(SLA_FILTERS)}, "breached, or due within the hour"),
        _q("sort", {"enum": list(SORTS)}, "recent (default) or due: nearest deadline first"),
        *_PAGE,
    ]
    replied = json_object(
        {
            "message_id": INT,
            "outbox_id": INT,
            "connector_id": STR,
            "recipient": STR,
            "text": STR,
            "send_at": nullable(TIME),
        }
    )
    me = json_object(
        {
            "kind": {"enum": ["agent", "integration"]},
            "username": STR,
            "name": STR,
            "role": {"enum": ["agent", "lead", "admin"]},
            "teams": {"type": "array", "items": STR},
        }
    )
    paths: dict[str, Any] = {
        "/openapi.json": {
            "get": _op("This document", ("200", {"type": "object"}, "OpenAPI 3.1"), ("401",))
        },
        "/me": {"get": _op("Who the token acts as", ("200", me, "the actor"), ("401",))},
        "/tickets": {
            "get": _op(
                "Tickets the caller may see, newest activity first (or nearest deadline, sort=due)",
                ("200", arr("tickets", "Ticket"), "tickets"),
                ("400", "401"),
                params=ticket_filters,
            )
        },
        "/tickets/{id}": {
            "parameters": [_path()],
            "get": _op(
                "A ticket with messages and notes", ("200", ref("TicketDetail"), "the ticket")
            ),
            "patch": _op(
                "Change status, priority, assignee or tags",
                ("200", ref("Ticket"), "the changed ticket"),
                ("400", "401", "403", "404", "409"),
                body=patch,
            ),
        },
        "/tickets/{id}/reply": {
            "parameters": [_path()],
            "post": _op(
                "Answer the customer over the channel they last used (through the outbox)",
                ("202", replied, "queued"),
                ("400", "401", "403", "404", "409"),
                body=reply,
            ),
        },
        "/tickets/{id}/notes": {
            "parameters": [_path()],
            "post": _op(
                "Add an internal note",
                ("201", json_object({"id": INT, "author": STR}), "added"),
                ("400", "401", "403", "404"),
                body=note,
            ),
        },
        "/tickets/{id}/scheduled/{message_id}": {
            "parameters": [_path(), _path("message_id")],
            "delete": _op(
                "Cancel a reply scheduled for later that has not been sent",
                ("204", None, "cancelled"),
                ("401", "403", "404", "409"),
            ),
        },
        "/tickets/{id}/canned-responses/{canned_id}/preview": {
            "parameters": [_path(), _path("canned_id")],
            "get": _op(
                "A canned response rendered for this ticket's customer",
                ("200", json_object({"text": STR}), "the text"),
                ("400", "401", "403", "404", "409"),
            ),
        },
        "/customers": {
            "get": _op(
                "Customers the caller may see",
                ("200", arr("customers", "Customer"), "customers"),
                ("400", "401"),
                params=[_q("q", _TEXT, "name, email or phone"), _q("tag", _TEXT), *_PAGE],
            ),
            "post": _op(
                "Create a customer with identities (admins and integrations)",
                ("201", ref("CustomerDetail"), "created"),
                ("400", "401", "403", "409"),
                body=new_customer,
            ),
        },
        "/customers/{id}": {
            "parameters": [_path()],
            "get": _op("The customer 360 record", ("200", ref("CustomerDetail"), "the customer")),
            "patch": _op(
                "Edit a customer (validated)",
                ("200", ref("CustomerDetail"), "the changed customer"),
                body=customer_patch,
            ),
        },
        "/customers/{id}/identities": {
            "parameters": [_path()],
            "post": _op(
                "Add an identity (normalized; refused if another customer has it)",
                ("201", ref("Identity"), "added"),
                ("400", "401", "403", "404", "409"),
                body=new_identity,
            ),
        },
        "/customers/{id}/identities/{identity_id}": {
            "parameters": [_path(), _path("identity_id")],
            "delete": _op(
                "Remove an identity (not the last one)",
                ("204", None, "removed"),
                ("401", "403", "404", "409"),
            ),
        },
        "/customers/{id}/purchases": {
            "parameters": [_path()],
            "get": _op(
                "The customer's purchases, newest first",
                ("200", arr("purchases", "Purchase"), "purchases"),
                params=_PAGE,
            ),
            "post": _op(
                "Record a purchase",
                ("201", ref("Purchase"), "recorded"),
                ("400", "401", "403", "404", "409"),
                body=new_purchase,
            ),
        },
        "/customers/{id}/merge": {
            "parameters": [_path()],
            "post": _op(
                "Merge other_customer_id into this customer (undoable)",
                ("200", ref("MergeResult"), "merged"),
                ("400", "401", "403", "404", "409"),
                body=merge_body,
            ),
        },
        "/merges/{id}/undo": {
            "parameters": [_path()],
            "post": _op(
                "Undo a merge: every moved row goes back",
                ("200", ref("MergeResult"), "undone"),
                ("400", "401", "403", "404", "409"),
            ),
        },
        "/duplicates": {
            "get": _op(
                "Open duplicate suggestions for customers the caller may see",
                ("200", arr("duplicates", "Duplicate"), "suggestions"),
                ("400", "401"),
                params=[_q("limit", {"type": "integer", "minimum": 1, "maximum": 200})],
            )
        },
        "/duplicates/{id}/distinct": {
            "parameters": [_path()],
            "post": _op(
                "Not the same person: the pair is closed and never suggested again",
                ("200", ref("DuplicateDecision"), "decided"),
                ("400", "401", "403", "404", "409"),
            ),
        },
        "/teams": {
            "get": _op("Teams and their agents", ("200", arr("teams", "Team"), "teams"), ("401",))
        },
        "/canned-responses": {
            "get": _op(
                "Canned responses the caller may use",
                ("200", arr("canned_responses", "CannedResponse"), "canned responses"),
                ("400", "401"),
                params=[_q("team", _TEXT, "only those fit for this team's tickets")],
            ),
            "post": _op(
                "Create a canned response (admins)",
                ("201", ref("CannedResponse"), "created"),
                ("400", "401", "403", "409"),
                body=canned_body,
            ),
        },
        "/canned-responses/{id}": {
            "parameters": [_path()],
            "get": _op("One canned response", ("200", ref("CannedResponse"), "it"), ("401", "404")),
            "delete": _op(
                "Delete a canned response (admins)", ("204", None, "deleted"), ("401", "403", "404")
            ),
        },
    }
    paths.update(privacy_paths(c))
    paths.update(assignment_paths(c))
    c.update(report_components())
    paths.update(report_paths(_op))
    paths.update(webhook_paths(c))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hub API", "version": "1"},
        "servers": [{"url": server_url.rstrip("/") + "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": c,
        },
        "paths": paths,
    }
