"""The one schema, for SQLite and PostgreSQL alike. Alembic migrations follow it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from hub.store.bucket_counts import BucketCounts
from hub.store.duration_buckets import bucket_sql


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on both dialects (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Any:
        process = super().bind_processor(dialect)
        if process is None:
            return None
        # A batch writes one `now` into several columns of every row; converting it (and
        # on SQLite formatting it) once instead of per cell was 4% of an ingest's CPU.
        # One tuple, replaced whole, so threads sharing the processor never mix values.
        memo: list[tuple[Any, Any]] = [(None, None)]

        def cached(value: Any) -> Any:
            last = memo[0]
            if value is last[0] and value is not None:
                return last[1]
            out = process(value)
            memo[0] = (value, out)
            return out

        return cached

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def since_md(created_at: datetime) -> int:
    """A customer's `since_md`: month * 100 + day of when they were created."""
    return created_at.month * 100 + created_at.day


def _since_md(context: Any) -> int | None:
    created = context.get_current_parameters().get("created_at")
    return None if created is None else since_md(created)


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _ts(name: str, nullable: bool = False) -> Column:
    return Column(name, UtcDateTime(), nullable=nullable)


teams = Table(
    "teams",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("display_name", String(200)),
    Column("locale", String(16), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("gender", String(32)),
    Column("birthday", Date),
    Column("anniversary", Date),
    # Postal address as given; structured keys (street, city, region, postal_code, country).
    Column("address", JSON, nullable=False, default=dict),
    Column("tags", JSON, nullable=False, default=list),
    # A merged customer points at the survivor; it keeps its row so history stays traceable.
    Column("merged_into", Id, ForeignKey("customers.id")),
    _ts("created_at"),
    _ts("updated_at"),
    # month * 100 + day of each occasion, indexed, so the greetings sweep finds who is due
    # without reading every customer. Written with the dates (hub.customers.occasions.md_columns);
    # since_md follows created_at's UTC date.
    Column("birthday_md", Integer, index=True),
    Column("anniversary_md", Integer, index=True),
    Column("since_md", Integer, index=True, default=_since_md),
    # Set when the person was erased in anonymize mode (hub.privacy): the row stays, empty,
    # so reports keep their counts.
    _ts("erased_at", nullable=True),
)

identities = Table(
    "identities",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False, index=True),
    # email (lower-cased), phone (E.164), or a channel handle kind (telegram, webchat, ...)
    Column("kind", String(32), nullable=False),
    Column("value", String(320), nullable=False),
    Column("display_name", String(200)),
    Column("unreachable", Boolean, nullable=False, default=False),
    _ts("created_at"),
    UniqueConstraint("kind", "value"),
)

consents = Table(
    "consents",
    metadata,
    Column("customer_id", Id, ForeignKey("customers.id"), primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("status", String(16), nullable=False),  # opt_in | opt_out
    Column("source", String(200), nullable=False),
    _ts("recorded_at"),
)

duplicate_suggestions = Table(
    "duplicate_suggestions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("other_customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("status", String(16), nullable=False, default="open"),
    _ts("created_at"),
    UniqueConstraint("customer_id", "other_customer_id"),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False, index=True),
    Column("channel", String(32), nullable=False),
    Column("connector_id", String(40), nullable=False),
    Column("team_id", String(40), ForeignKey("teams.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),  # new, open, pending, solved, closed
    Column("priority", String(16), nullable=False),
    Column("subject", String(500)),
    Column("tags", JSON, nullable=False, default=list),
    Column("assignee", String(100)),
    # "<customer>:<channel>" while the ticket is open, NULL after: one open ticket per
    # customer and channel, enforced by the database even with several hub processes.
    # A shared conversation's ticket has the conversation's key instead (hub.tickets.records).
    Column("open_key", String(80), unique=True),
    # "<kind>:<value>" of the shared conversation (a group chat) the ticket is, else NULL:
    # its open key is the conversation's, and replies go there (hub.tickets.records).
    Column("conversation", String(340)),
    _ts("created_at"),
    _ts("updated_at"),
    _ts("last_message_at"),
    # The routing rule that opened it (NULL: the fallback): its `notify` hears of escalations.
    Column("route_rule", String(100)),
    # The nearest pending SLA deadline (hub.sla), NULL when none: queues sort "due first"
    # and assignment takes the nearest first.
    _ts("sla_due_at", nullable=True),
    # Its messages in and out as the reports count them (hub.events.counts): the ticket
    # export's, kept here instead of a metric event row per message.
    Column("messages_in", Integer, nullable=False, server_default="0"),
    Column("messages_out", Integer, nullable=False, server_default="0"),
    Index("ix_tickets_sla_due_at", "sla_due_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("external_id", String(300), nullable=False),
    Column("connector_id", String(40), nullable=False),
    Column("direction", String(8), nullable=False),  # in | out
    Column("ticket_id", Id, ForeignKey("tickets.id"), index=True),
    Column("customer_id", Id, ForeignKey("customers.id"), index=True),
    Column("sender", String(320)),
    Column("subject", String(500)),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text),
    Column("language", String(16)),
    Column("auto_submitted", Boolean, nullable=False, default=False),
    Column("meta", JSON, nullable=False, default=dict),
    # For a message keyed by its client (InboundMessage.client_key): a hash of the request,
    # so the key is bound to it (hub.ingest.dedupe).
    Column("request_hash", String(64)),
    # An inbound message's shared conversation (as tickets.conversation), so a hand-over
    # finds what was said there before a ticket held it.
    Column("conversation", String(340), index=True),
    _ts("received_at"),
    _ts("created_at"),
    # What the channel reported since (hub.channels.message_events): the furthest delivery status of
    # one we sent (sent, delivered, read, failed), and when the sender edited or deleted it.
    Column("delivery_status", String(16)),
    _ts("edited_at", nullable=True),
    _ts("deleted_at", nullable=True),
    UniqueConstraint("channel", "external_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("connector_id", String(40), nullable=False),
    Column("ticket_id", Id, ForeignKey("tickets.id"), index=True),
    Column("message_id", Id, ForeignKey("messages.id")),
    # Same on every retry, so a resend after a crash is recognisably the same message.
    Column("idempotency_key", String(100), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),  # acknowledgement, agent_reply, ...
    Column("recipient_kind", String(32), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("recipient_name", String(200)),
    Column("subject", String(500)),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text),
    Column("auto_submitted", Boolean, nullable=False, default=False),
    Column("in_reply_to", String(300)),
    Column("references", JSON, nullable=False, default=list),
    Column("status", String(16), nullable=False),  # pending, sent, dead, cancelled
    Column("attempts", Integer, nullable=False, default=0),
    _ts("next_attempt_at"),
    _ts("lease_until", nullable=True),
    Column("claimed_by", String(64)),
    Column("last_error", Text),
    Column("remote_id", String(300)),
    _ts("created_at"),
    _ts("sent_at", nullable=True),
    # Proactive messages (greetings, campaigns) need consent on this channel when sent,
    # not only when queued: an opt-out in between cancels them.
    Column("customer_id", Id, ForeignKey("customers.id")),
    Column("consent_channel", String(32)),
    Column("list_unsubscribe", String(500)),
    # A team-channel notification's structure (hub.messages.Notice), for Slack and Teams;
    # or {"template": ...}: a greeting's approved template (hub.messages.TemplateMessage).
    Column("payload", JSON),
    # An approved template to send instead of free text (channels with a reply window).
    Column("template", String(200)),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    # Delivery statuses find the message they concern by the id the channel gave it.
    Index("ix_outbox_connector_remote", "connector_id", "remote_id"),
    # The auto-reply breaker counts recent acknowledgements per recipient on every batch.
    Index("ix_outbox_recipient_created", "recipient", "created_at"),
)

# Statuses, edits, deletions and reactions the channels reported, once each (event_key).
# message_id is NULL while the message is not known yet: a status can overtake the commit
# of the send it reports on, and is attached when that send is recorded.
message_events = Table(
    "message_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", Id, ForeignKey("messages.id"), index=True),
    Column("channel", String(32), nullable=False),
    Column("connector_id", String(40), nullable=False),
    Column("ref", String(300), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("event_key", String(300), nullable=False),
    Column("value", Text),
    Column("detail", JSON, nullable=False, default=dict),
    _ts("occurred_at"),
    _ts("created_at"),
    UniqueConstraint("channel", "event_key"),
    Index("ix_message_events_connector_ref", "connector_id", "ref"),
)

purchases = Table(
    "purchases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False, index=True),
    Column("order_ref", String(100), nullable=False, unique=True),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("purchased_at", UtcDateTime(), nullable=False),
    Column("items", Text),
    _ts("created_at"),
)

# What a connector must remember across restarts (an IMAP mailbox's UIDVALIDITY and last
# committed UID, a polling offset), keyed per connector.
connector_state = Table(
    "connector_state",
    metadata,
    Column("connector_id", String(40), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("value", JSON, nullable=False),
    _ts("updated_at"),
)

# Named leases: work that only one hub process may do at a time (reading one mailbox).
leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(64), nullable=False),
    _ts("expires_at"),
)

# Input that could not be turned into a message: kept byte for byte with the reason.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("connector_id", String(40), nullable=False),
    Column("external_id", String(300)),
    Column("reason", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("meta", JSON, nullable=False, default=dict),
    Column("status", String(16), nullable=False, default="open"),
    _ts("created_at"),
    UniqueConstraint("connector_id", "external_id"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", Id, ForeignKey("messages.id"), nullable=False, index=True),
    Column("filename", String(300), nullable=False),
    Column("content_type", String(200), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    # NULL when the attachment was over the size cap: recorded, never silently dropped.
    Column("content", LargeBinary),
    Column("dropped_reason", String(200)),
    _ts("created_at"),
)

# Support agents: from config (source "config") or `hub agents add` (source "cli"). A config
# sync never touches "cli" agents; an agent dropped from config is deactivated, not deleted,
# so notes and assignments keep naming them.
agents = Table(
    "agents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("email", String(320)),
    Column("role", String(16), nullable=False),  # agent | admin
    # argon2 encoded hash; NULL: the agent cannot log in to the inbox (API tokens only).
    Column("password_hash", String(200)),
    Column("source", String(16), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    _ts("created_at"),
    _ts("updated_at"),
)

agent_teams = Table(
    "agent_teams",
    metadata,
    Column("agent_id", Id, ForeignKey("agents.id"), primary_key=True),
    Column("team_id", String(40), ForeignKey("teams.id"), primary_key=True),
)

# Inbox log-ins. The cookie holds a random token; only its SHA-256 is stored, so a copy of
# the database opens no session.
agent_sessions = Table(
    "agent_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("agent_id", Id, ForeignKey("agents.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    _ts("created_at"),
    _ts("expires_at"),
)

# Per-agent API bearer tokens, hashed like sessions.
agent_tokens = Table(
    "agent_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("agent_id", Id, ForeignKey("agents.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    _ts("created_at"),
)

# Internal notes on a ticket: never sent, shown to agents in the conversation.
ticket_notes = Table(
    "ticket_notes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ticket_id", Id, ForeignKey("tickets.id"), nullable=False, index=True),
    # NULL for a note written with an integration token.
    Column("agent_id", Id, ForeignKey("agents.id")),
    Column("author", String(200), nullable=False),
    Column("body_text", Text, nullable=False),
    _ts("created_at"),
)

# Canned responses: Jinja2 templates (rendered in the sandbox) with customer variables.
canned_responses = Table(
    "canned_responses",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    # NULL: offered to every team.
    Column("team_id", String(40), ForeignKey("teams.id")),
    Column("body", Text, nullable=False),
    Column("source", String(16), nullable=False),  # config | api
    _ts("created_at"),
    _ts("updated_at"),
)

# One greeting per customer, occasion and year: the database, not luck, makes it once.
greeting_sends = Table(
    "greeting_sends",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("occasion", String(32), nullable=False),
    Column("year", Integer, nullable=False),
    Column("channel", String(32), nullable=False),
    _ts("created_at"),
    UniqueConstraint("customer_id", "occasion", "year"),
)

# Campaigns created with `hub campaigns create`, besides those in the config file; the
# definition is a CampaignConfig as JSON, validated again when read.
campaigns = Table(
    "campaigns",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("definition", JSON, nullable=False),
    _ts("created_at"),
)

# One message per campaign and customer, written with its outbox row: a second sweep, a
# restart or a second hub process sends nothing twice.
campaign_sends = Table(
    "campaign_sends",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign", String(40), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    _ts("created_at"),
    UniqueConstraint("campaign", "customer_id"),
)

# The inbox's queues: a team's open tickets, newest activity first, and the same across
# teams for admins (bench/inbox.py measures both pages on 100,000 tickets).
Index("ix_tickets_queue", tickets.c.team_id, tickets.c.status, tickets.c.last_message_at)
Index("ix_tickets_last_message_at", tickets.c.last_message_at)

# Who merged which customer into which, and the ids of every row that moved, so the merge
# can be undone exactly (hub.customers.merge).
customer_merges = Table(
    "customer_merges",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("survivor_id", Id, ForeignKey("customers.id"), nullable=False, index=True),
    Column("merged_id", Id, ForeignKey("customers.id"), nullable=False, index=True),
    Column("merged_by", String(200), nullable=False),
    _ts("merged_at"),
    Column("moved", JSON, nullable=False),
    Column("undone_by", String(200)),
    _ts("undone_at", nullable=True),
)

# Ticket notifications waiting to be batched into one post per notification connector
# (hub.notify.sweep). Written in the transaction that opened or escalated the ticket, and
# marked batched in the one that queues their outbox row: none lost, none posted twice.
notification_events = Table(
    "notification_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("connector_id", String(40), nullable=False),
    Column("ticket_id", Id, ForeignKey("tickets.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # opened | escalated | sla_warning | sla_breached
    # Why an escalation happened ("priority urgent", "tag vip"); "" for opened.
    Column("reason", String(100), nullable=False),
    Column("status", String(16), nullable=False),  # pending | batched
    Column("outbox_id", Id, ForeignKey("outbox.id")),
    _ts("created_at"),
    _ts("batched_at", nullable=True),
    # Once per ticket, connector and reason: toggling a priority does not spam the channel.
    UniqueConstraint("ticket_id", "connector_id", "kind", "reason"),
    Index("ix_notification_events_pending", "status", "connector_id", "id"),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # The notification connector (slack, teams) the alert goes to.
    Column("target", String(40), nullable=False),
    Column("kind", String(16), nullable=False),  # disabled | not_ready | dead
    Column("connector_id", String(40), nullable=False),  # the connector it is about
    Column("detail", String(300), nullable=False),
    # A dead-lettered outbox row the alert is about.
    Column("dead_outbox_id", Id, ForeignKey("outbox.id")),
    # pending | batched | held (about its own target: cannot go through it)
    Column("status", String(16), nullable=False),
    Column("outbox_id", Id, ForeignKey("outbox.id")),  # the post that carries it
    _ts("created_at"),
    _ts("batched_at", nullable=True),
    # Once the connector runs again; until then the same trouble is not alerted twice.
    _ts("resolved_at", nullable=True),
    Index("ix_alert_events_pending", "status", "target", "id"),
    # One open incident per connector, kind and target, however many processes see it.
    Index(
        "ux_alert_events_open",
        "kind",
        "connector_id",
        "target",
        unique=True,
        sqlite_where=text("resolved_at IS NULL AND kind != 'dead'"),
        postgresql_where=text("resolved_at IS NULL AND kind != 'dead'"),
    ),
)

# Failed inbox log-ins per account ("account:<username>") and per client address
# ("address:<ip>"), shared by every hub process on the database (hub.agents.login_throttle).
login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(400), primary_key=True),
    # Unix times of the failures inside the window, at most the allowance.
    Column("failures", JSON, nullable=False, default=list),
    _ts("locked_until", nullable=True),
    _ts("updated_at"),
    Index("ix_login_failures_updated_at", "updated_at"),
)


# ---- Service levels (#14): SLA clocks and deadlines -------------------------------------
# One row per clock of a ticket (hub.sla.clocks): first_response and resolution once,
# next_response once per cycle (each customer message waiting for an answer).
sla_targets = Table(
    "sla_targets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ticket_id", Id, ForeignKey("tickets.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # first_response | next_response | resolution
    Column("cycle", Integer, nullable=False),
    Column("policy", String(60), nullable=False),
    # The calendar the target counts on ("calendar-time": around the clock).
    Column("calendar", String(40), nullable=False),
    Column("target_seconds", Integer, nullable=False),
    _ts("started_at"),
    # While the clock runs: since when; with consumed_seconds (open time spent before,
    # in earlier runs) the deadline follows. NULL while paused or stopped.
    _ts("running_since", nullable=True),
    Column("consumed_seconds", Float, nullable=False, default=0.0),
    _ts("paused_since", nullable=True),
    _ts("due_at", nullable=True),
    Column("status", String(12), nullable=False),  # pending | achieved | breached | cancelled
    _ts("achieved_at", nullable=True),
    _ts("breached_at", nullable=True),
    # When the warning (and the breach's notification) go; NULL once taken or not wanted.
    # Only inside the team's hours, when it asks so: then at the calendar's next opening.
    _ts("warn_at", nullable=True),
    _ts("warned_at", nullable=True),
    _ts("breach_notify_at", nullable=True),
    _ts("breach_notified_at", nullable=True),
    UniqueConstraint("ticket_id", "kind", "cycle"),
    # The periodic check reads three ranges: due pending targets, due warnings, due
    # breach notices; each is an index range however many tickets are open. The status
    # leads each: with it equal and the time a range, no planner prefers another index.
    Index("ix_sla_targets_status_due_at", "status", "due_at"),
    Index("ix_sla_targets_status_warn_at", "status", "warn_at"),
    Index("ix_sla_targets_status_breach_notify_at", "status", "breach_notify_at"),
)

# A ticket's SLA timeline: policies applied and re-evaluated, pauses, warnings, breaches.
sla_events = Table(
    "sla_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ticket_id", Id, ForeignKey("tickets.id"), nullable=False, index=True),
    _ts("at"),
    Column("what", String(24), nullable=False),
    Column("detail", String(300), nullable=False),
)


# ---- Assignment (#14): agent capacity, availability, skills ------------------------------
# Each agent's availability as they set it (inbox or API). No row: off, so an agent who
# never said they are working gets no tickets.
agent_availability = Table(
    "agent_availability",
    metadata,
    Column("agent_id", Id, ForeignKey("agents.id"), primary_key=True),
    Column("availability", String(8), nullable=False),  # online | away | off
    # Since when: a ticket of an agent away or off for a team's `reassign_after` moves on.
    _ts("since"),
)

# Per team, the agent who got the last ticket: round robin goes on after them. The row
# is locked while a team's tickets are assigned, so hub processes take turns per team.
assignment_pointers = Table(
    "assignment_pointers",
    metadata,
    Column("team_id", String(40), ForeignKey("teams.id"), primary_key=True),
    Column("last_agent", String(64)),
    _ts("updated_at"),
)

# The ticket's assignment history: who got it, from whom, and why.
ticket_assignments = Table(
    "ticket_assignments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ticket_id", Id, ForeignKey("tickets.id"), nullable=False, index=True),
    Column("assignee", String(64), nullable=False),
    Column("previous", String(64)),
    Column("reason", String(16), nullable=False),  # opened | waiting | reassigned | manual
    _ts("created_at"),
)

# An agent's open tickets, counted against their capacity on every assignment round.
Index("ix_tickets_assignee_status", tickets.c.assignee, tickets.c.status)
# A team's unassigned tickets, which every round looks for among all the open ones.
Index(
    "ix_tickets_unassigned",
    tickets.c.team_id,
    tickets.c.status,
    tickets.c.created_at,
    sqlite_where=text("assignee IS NULL"),
    postgresql_where=text("assignee IS NULL"),
)


# ---- Metric events and rollup (#15) -------------------------------------------------------
# What reports count (hub.events.metrics), appended in the transaction of the change that
# caused it. No foreign keys: an erased customer's events can be removed in any order.
metric_events = Table(
    "metric_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(24), nullable=False),
    _ts("occurred_at"),
    Column("ticket_id", Id),
    Column("customer_id", Id),
    Column("team_id", String(40)),
    Column("channel", String(32)),
    Column("agent", String(100)),
    Column("priority", String(16)),
    Column("tags", JSON, nullable=False, default=list),
    # Calendar time and business time of what the event measures (a customer's wait).
    Column("seconds", Float),
    Column("business_seconds", Float),
    Column("value", Integer),
    # 1, or -1 for an event taken back (a changed survey answer): counts add weights.
    Column("weight", Integer, nullable=False, default=1),
    # The durations' histogram buckets (hub.store.duration_buckets), computed by the
    # database from the seconds (virtual on SQLite, stored on PostgreSQL): a median reads
    # the durations of a few buckets in a range of time off the indexes below.
    Column("bucket", Integer, Computed(bucket_sql("seconds"))),
    Column("business_bucket", Integer, Computed(bucket_sql("business_seconds"))),
    # Reports read one kind over a range of time; the columns they group and measure by
    # are in the index, so the table itself is not read.
    Index(
        "ix_metric_events_kind_time",
        "kind",
        "occurred_at",
        "team_id",
        "agent",
        "channel",
        "seconds",
        "business_seconds",
        "ticket_id",
    ),
    # A reply asks whether the ticket had its first response yet, and when the last.
    Index("ix_metric_events_ticket", "ticket_id", "kind"),
    # A median reads the durations inside a few histogram buckets (hub.reports.
    # histogram_read) in the report's range of time, with the team and agent they count for.
    Index(
        "ix_metric_events_bucket",
        "kind",
        "bucket",
        "occurred_at",
        "seconds",
        "team_id",
        "agent",
        sqlite_where=text("seconds IS NOT NULL"),
        postgresql_where=text("seconds IS NOT NULL"),
    ),
    Index(
        "ix_metric_events_business_bucket",
        "kind",
        "business_bucket",
        "occurred_at",
        "business_seconds",
        "team_id",
        "agent",
        sqlite_where=text("business_seconds IS NOT NULL"),
        postgresql_where=text("business_seconds IS NOT NULL"),
    ),
)

# The daily rollup: per day (in reports.timezone), kind, team ('' for all) and one
# dimension (`dim`: all, channel, agent, priority, tag; `member`: its value, '' for all).
metric_daily = Table(
    "metric_daily",
    metadata,
    # The key's order is the reports' access path: one dimension and team scope, a range
    # of days; on SQLite the rows live in the key's order (WITHOUT ROWID).
    Column("dim", String(16), primary_key=True),
    Column("team_id", String(40), primary_key=True),
    # day | month: each event adds to its day's and its month's rows (hub.events.spans),
    # and a range is read as its whole months, then days.
    Column("span", String(8), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("kind", String(24), primary_key=True),
    Column("member", String(100), primary_key=True),
    Column("n", Integer, nullable=False),
    # How many events had a duration, and their sum (means: sum / n).
    Column("seconds_n", Integer, nullable=False),
    Column("seconds_sum", Float, nullable=False),
    Column("business_n", Integer, nullable=False),
    Column("business_sum", Float, nullable=False),
    Column("value_sum", Integer, nullable=False),
    # Survey answers rated 4 or 5.
    Column("positive", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# The durations' histogram beside the rollup: per day, week and month, kind, basis
# (calendar | business) and team ('' for all), how many durations fell in each fixed bucket
# of seconds (hub.store.duration_buckets), one row holding every bucket's count. A median
# first finds its bucket here, then reads only the events inside it: exact, without
# reading every duration of the range. dim and member are the rollup's; ("all", "") and
# ("agent", who) rows are kept (hub.events.metrics.histogram_rows).
metric_histogram = Table(
    "metric_histogram",
    metadata,
    Column("dim", String(16), primary_key=True),
    Column("team_id", String(40), primary_key=True),
    Column("kind", String(24), primary_key=True),
    Column("basis", String(8), primary_key=True),
    # day | week | month (hub.events.spans): each duration counts in the three, and
    # `day` is the span's first day.
    Column("span", String(8), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("member", String(100), primary_key=True),
    # How many durations in each bucket (hub.store.bucket_counts).
    Column("counts", BucketCounts(), nullable=False),
    sqlite_with_rowid=False,
)

# Messages in and out, counted per UTC quarter hour (`slot`: seconds since the epoch // 900)
# and the dimensions they are reported by, instead of a metric event each (hub.events.counts):
# a batch of a hundred messages adds to a few rows. Every zone's hours begin on a quarter
# hour, so a report's range and buckets in any zone take whole slots. `dims` is a digest of
# the dimensions (a short key whatever the tags); the columns hold them ('' for none, the
# tags as a JSON list, sorted) for the reports to filter and group by.
metric_counts = Table(
    "metric_counts",
    metadata,
    Column("kind", String(24), primary_key=True),
    Column("slot", BigInteger, primary_key=True),
    Column("dims", String(32), primary_key=True),
    Column("team_id", String(40), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("agent", String(100), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("tags", Text, nullable=False),
    Column("n", Integer, nullable=False),
    sqlite_with_rowid=False,
)


# ---- Weekly summary email (#15) -----------------------------------------------------------
# One row per summary and week, written in the transaction of its outbox rows: a second
# round, a restart or a second hub process on the database sends nothing twice.
weekly_summary_sends = Table(
    "weekly_summary_sends",
    metadata,
    Column("summary", String(40), primary_key=True),
    # The week's first local day (in the summary's zone).
    Column("week_start", Date, primary_key=True),
    Column("recipients", Integer, nullable=False),
    _ts("created_at"),
)


# ---- CSAT surveys (#15) -------------------------------------------------------------------
# One survey per solve cycle of a ticket (the customer message the solve answered), written
# with its outbox row (hub.surveys.sending); the link's token is kept only as its sha256.
surveys = Table(
    "surveys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ticket_id", Id, ForeignKey("tickets.id"), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    # The newest customer message when the ticket was solved: a second solve without the
    # customer writing again is the same cycle, and the unique constraint refuses it.
    Column("cycle_message_id", Id, nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("connector_id", String(40), nullable=False),
    Column("channel", String(32), nullable=False),  # the recipient's identity kind
    Column("language", String(16), nullable=False),
    # Who is credited with the rating: the agent who last answered, and the ticket's team,
    # as they were when the survey was queued (a later reassignment changes nothing).
    Column("agent", String(100)),
    Column("team_id", String(40), nullable=False),
    Column("status", String(16), nullable=False),  # queued | skipped
    Column("note", String(300)),
    Column("outbox_id", Id),
    _ts("send_at"),
    _ts("created_at"),
    UniqueConstraint("ticket_id", "cycle_message_id"),
    Index("ix_surveys_customer_created", "customer_id", "created_at"),
)

# At most one answer per survey (the unique survey_id); a change within the window
# updates it, keeping when it was first given.
survey_responses = Table(
    "survey_responses",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("survey_id", Id, ForeignKey("surveys.id"), nullable=False, unique=True),
    # The survey's ticket again, so erasure (hub.privacy) finds the answers by ticket.
    Column("ticket_id", Id, ForeignKey("tickets.id"), nullable=False, index=True),
    Column("rating", Integer, nullable=False),  # 1-5
    Column("comment", Text),
    Column("via", String(16), nullable=False),  # link | button
    Column("changes", Integer, nullable=False, default=0),
    _ts("answered_at"),
    _ts("updated_at"),
    Index("ix_survey_responses_answered_at", "answered_at"),
)


# ---- Outgoing events and webhooks (#16) ---------------------------------------------------
# What webhooks and CRM syncs hear of (hub.events.outgoing), written in the transaction of the
# change that caused it: none lost, none made up by a rolled-back change.
outgoing_events = Table(
    "outgoing_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # A stable id for receivers (the Standard Webhooks `webhook-id` of its deliveries).
    Column("event_key", String(40), nullable=False, unique=True),
    Column("type", String(40), nullable=False),  # ticket.created, customer.updated, ...
    # Who it concerns, for ordering per customer and for erasure; no foreign keys, so an
    # erased or merged customer's events can be found and removed in any order.
    Column("customer_id", Id, index=True),
    Column("ticket_id", Id),
    Column("data", JSON, nullable=False),
    _ts("created_at"),
    # When hub.webhooks turned it into delivery rows (NULL: not yet). A flag, not a
    # cursor on the id: ids are taken before commit, so a later id can commit first.
    _ts("fanned_out_at", nullable=True),
    Index(
        "ix_outgoing_events_unfanned",
        "id",
        sqlite_where=text("fanned_out_at IS NULL"),
        postgresql_where=text("fanned_out_at IS NULL"),
    ),
    # Ids are never reused on SQLite either: an erasure deletes a person's events, and
    # without AUTOINCREMENT the next event would take a deleted newest id, one a CRM sync
    # (hub.crm.intake) has taken in already. PostgreSQL's sequences never reuse ids.
    sqlite_autoincrement=True,
)

# Where events are posted: from the config (source "config", its secret stays in the
# config) or created through the API (source "api", its secret kept here: it must sign,
# so it cannot be hashed). A config endpoint dropped from the file is "removed".
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("events", JSON, nullable=False),
    Column("source", String(16), nullable=False),  # config | api
    Column("secret", String(200)),
    Column("allow_private", Boolean, nullable=False),
    Column("max_failures", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("timeout_ms", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # active | disabled | removed
    Column("disabled_reason", String(300)),
    # Failed attempts in a row, any event; a success resets it.
    Column("consecutive_failures", Integer, nullable=False, default=0),
    _ts("created_at"),
    _ts("updated_at"),
    _ts("disabled_at", nullable=True),
)

# One event to one endpoint: delivered at least once with the event's key as webhook-id.
# Claimed under a lease like the outbox; a customer's events go out in order per endpoint
# (only the earliest pending one of a customer is claimable). No foreign key to the event:
# erasure may remove it first, and the delivery then has nothing left to send.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("endpoint_id", String(40), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", Id, nullable=False),
    Column("customer_id", Id),
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    _ts("next_attempt_at"),
    _ts("lease_until", nullable=True),
    Column("claimed_by", String(64)),
    Column("last_status", Integer),
    Column("last_error", String(300)),
    _ts("created_at"),
    _ts("delivered_at", nullable=True),
    UniqueConstraint("endpoint_id", "event_id"),
    Index("ix_webhook_deliveries_due", "endpoint_id", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_order", "endpoint_id", "customer_id", "status", "event_id"),
    Index("ix_webhook_deliveries_event_id", "event_id"),
)

# Every attempt: the delivery log the API shows (status code, error, when, how long).
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("delivery_id", Id, ForeignKey("webhook_deliveries.id"), nullable=False, index=True),
    _ts("attempted_at"),
    Column("status_code", Integer),
    Column("error", String(300)),
    Column("duration_ms", Integer, nullable=False),
)


# ---- CRM sync (#16) -----------------------------------------------------------------------
# Each customer as one CRM connector knows it (hub.crm): the record's id there (also kept
# as an identity of the connector's kind, for lookups) and whether the hub has a change to
# push (due_at set). No foreign key: an erased customer's row stays until the erasure has
# reached the CRM.
crm_links = Table(
    "crm_links",
    metadata,
    Column("connector_id", String(40), primary_key=True),
    Column("customer_id", Id, primary_key=True, autoincrement=False),
    Column("remote_id", String(64)),
    # Bumped by every change taken in: a push clears due_at only if none came in meanwhile.
    Column("version", Integer, nullable=False, default=0),
    # NULL: nothing to push. Else the earliest the next attempt may run.
    _ts("due_at", nullable=True),
    # When the oldest change not yet pushed was made (hub_wins keeps fields edited since).
    _ts("changed_at", nullable=True),
    Column("erase", String(16)),  # delete | archive, once the customer was erased
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", String(500)),
    _ts("pushed_at", nullable=True),
    Index("ix_crm_links_due", "connector_id", "due_at"),
)

# The customer events each CRM connector has taken in. Marks, not a cursor alone: ids from
# a sequence can commit out of order on PostgreSQL, and a cursor would skip the late one.
# Marks below crm_cursors.event_floor are pruned (hub.crm.intake).
crm_event_marks = Table(
    "crm_event_marks",
    metadata,
    Column("connector_id", String(40), primary_key=True),
    Column("event_id", Id, primary_key=True, autoincrement=False),
)

crm_cursors = Table(
    "crm_cursors",
    metadata,
    Column("connector_id", String(40), primary_key=True),
    # Every customer event with an id at or below this is taken in.
    Column("event_floor", Id, nullable=False, default=0),
    # The CRM's modified time the next pull starts from (less the overlap).
    _ts("pulled_until", nullable=True),
    _ts("updated_at"),
)

# Who last set each customer field and when (hub.customers.field_edits): an agent's edit is
# kept against CRM changes unless configured, and most_recent compares these times.
customer_field_edits = Table(
    "customer_field_edits",
    metadata,
    Column("customer_id", Id, primary_key=True, autoincrement=False),
    Column("field", String(40), primary_key=True),
    Column("source", String(48), nullable=False),  # agent | crm:<connector id>
    _ts("edited_at"),
)


# ---- Duplicate detection (#17) ------------------------------------------------------------
# The review queue is duplicate_suggestions (above), each pair once as (lower id, higher id),
# with what hub.dedup found: its score 0..1 and the reasons to show the reviewer. Status
# "distinct" is a reviewer's "not the same person": kept, so the pair is never suggested again.
duplicate_suggestions.append_column(Column("score", Float))
duplicate_suggestions.append_column(Column("reasons", JSON))
duplicate_suggestions.append_column(Column("decided_by", String(100)))
duplicate_suggestions.append_column(_ts("decided_at", nullable=True))
Index("ix_duplicate_suggestions_status_score", duplicate_suggestions.c.status,
      duplicate_suggestions.c.score)  # fmt: skip


# ---- Privacy: erasure audit, ledger, retention (#17) --------------------------------------
# Who erased which customer number when, in which mode, with per-table counts: no personal
# data (hub.privacy.erase).
erasure_audit = Table(
    "erasure_audit",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", Id, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("mode", String(16), nullable=False),  # delete | anonymize
    Column("counts", JSON, nullable=False),
    _ts("created_at"),
)

# Keyed hashes of erased identities, so `hub customers reapply-erasures` can erase them again
# after a backup is restored (hub.privacy.ledger).
erasure_ledger = Table(
    "erasure_ledger",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("mode", String(16), nullable=False),
    _ts("erased_at"),
)
# (section kept for the privacy tables)
