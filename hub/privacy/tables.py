"""How every table the hub writes relates to a customer, for erasure and export.

One declaration per table of `hub.store.schema.metadata`; tests/test_privacy_tables.py fails
for a table without one, so a new table cannot be forgotten by the erasure. The erasure
(hub.privacy.erase) reads these declarations; it never guesses from column names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# customer: rows whose `columns` hold one of the person's customer ids
# ticket:   rows of the person's own tickets (a shared conversation's ticket is not theirs)
# message:  rows of the person's messages (and of every message on their own tickets)
# outbox:   rows of the outbox that went or would go to the person
# special:  handled by hand in hub.privacy.erase (the customers, tickets, messages, outbox rows)
# none:     holds no customer data (the reason says why)
Scope = Literal["customer", "ticket", "message", "outbox", "special", "none"]


@dataclass(frozen=True)
class TableRule:
    scope: Scope
    columns: tuple[str, ...] = ()
    # anonymize mode: None deletes the rows as delete mode does; else the values written
    # over the personal columns, and the rows stay (counts for reports).
    anonymize: dict[str, object] | None = None
    reason: str = ""
    # Columns that reference another table's rows being removed: set to NULL first, so no
    # foreign key fails (e.g. notification_events.outbox_id).
    detach: tuple[str, ...] = field(default=())


RULES: dict[str, TableRule] = {
    "customers": TableRule("special"),
    "tickets": TableRule("special"),
    "messages": TableRule("special"),
    "outbox": TableRule("special"),
    "identities": TableRule("customer", ("customer_id",)),
    "consents": TableRule("customer", ("customer_id",)),
    "duplicate_suggestions": TableRule("customer", ("customer_id", "other_customer_id")),
    "customer_merges": TableRule("customer", ("survivor_id", "merged_id")),
    "purchases": TableRule(
        "customer", ("customer_id",), anonymize={"items": None}
    ),  # order_ref is rewritten per row (unique) by hub.privacy.erase
    "greeting_sends": TableRule("customer", ("customer_id",), anonymize={}),
    "campaign_sends": TableRule("customer", ("customer_id",), anonymize={}),
    "outgoing_events": TableRule("customer", ("customer_id",)),
    # Reports' events (#15): kept for the counts when the person is anonymized.
    "metric_events": TableRule("customer", ("customer_id",), anonymize={}),
    # Answers before their surveys (a foreign key); anonymized, the ratings stay for reports.
    "survey_responses": TableRule("ticket", ("ticket_id",), anonymize={"comment": None}),
    "surveys": TableRule("ticket", ("ticket_id",), anonymize={}),
    "webhook_endpoints": TableRule("none", reason="configuration"),
    # Ids and status codes only; an erased event's pending deliveries send nothing.
    "webhook_deliveries": TableRule("none", reason="ids and status codes of deliveries"),
    "webhook_attempts": TableRule("none", reason="status codes and times of attempts"),
    "ticket_notes": TableRule("ticket", ("ticket_id",), anonymize={"body_text": "[erased]"}),
    "notification_events": TableRule("ticket", ("ticket_id",), anonymize={}),
    # Who got the ticket and why: agents' names only; removed with the person's tickets.
    "ticket_assignments": TableRule("ticket", ("ticket_id",), anonymize={}),
    # A ticket's SLA clocks and their history (#14): policies and times, no personal data.
    "sla_targets": TableRule("ticket", ("ticket_id",), anonymize={}),
    "sla_events": TableRule("ticket", ("ticket_id",), anonymize={}),
    "attachments": TableRule("message", ("message_id",)),
    "message_events": TableRule("message", ("message_id",)),
    "quarantine": TableRule("special"),
    "erasure_audit": TableRule("none", reason="who erased whom and counts, no personal data"),
    "erasure_ledger": TableRule("none", reason="keyed hashes only"),
    "metric_daily": TableRule("none", reason="daily sums per team and dimension, no person"),
    "metric_histogram": TableRule("none", reason="daily counts of durations per bucket"),
    "metric_counts": TableRule(
        "none", reason="messages in and out per quarter hour and team, channel, agent, tag"
    ),
    "weekly_summary_sends": TableRule("none", reason="which weekly report went, no person"),
    "teams": TableRule("none", reason="configuration"),
    "agents": TableRule("none", reason="agents, not customers"),
    "agent_teams": TableRule("none", reason="agents, not customers"),
    "agent_sessions": TableRule("none", reason="agents, not customers"),
    "agent_tokens": TableRule("none", reason="agents, not customers"),
    "login_failures": TableRule("none", reason="agents' log-ins"),
    "agent_availability": TableRule("none", reason="agents, not customers"),
    "assignment_pointers": TableRule("none", reason="a team's round robin position"),
    "canned_responses": TableRule("none", reason="templates"),
    "campaigns": TableRule("none", reason="campaign definitions"),
    "connector_state": TableRule("none", reason="offsets and cursors of connectors"),
    "leases": TableRule("none", reason="process leases"),
    # Who set which customer field when (field names and times; hub.crm's conflicts).
    "customer_field_edits": TableRule("customer", ("customer_id",)),
    # The CRM record's id stays until hub.crm has deleted or archived that record on the
    # erasure's customer.erased event; hub.crm then deletes the row.
    "crm_links": TableRule(
        "none", reason="a CRM record id, removed by hub.crm once the erasure reached the CRM"
    ),
    "crm_event_marks": TableRule("none", reason="ids of events a CRM sync took in"),
    "crm_cursors": TableRule("none", reason="a CRM sync's cursors"),
    "alert_events": TableRule("none", reason="about connectors; outbox ids detached"),
}
