"""The message types every connector and the core agree on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Address:
    """Who a message is from or to, on one channel.

    `kind` is the identity kind the core resolves customers by: "email", "phone",
    or a channel handle such as "telegram" or "webchat".
    """

    kind: str
    value: str
    display_name: str | None = None


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class DroppedAttachment:
    filename: str
    content_type: str
    size: int
    reason: str


@dataclass(frozen=True)
class Choice:
    """One answer a customer can pick with a tap (a survey's rating): `label` is shown,
    `payload` is opaque to the connector, which hands it back as `InboundMessage.choice`
    when that button is pressed. The core signs payloads; at most 64 ASCII bytes (Telegram's
    callback_data limit), so every channel can carry them as they are."""

    label: str
    payload: str


@dataclass(frozen=True)
class InboundMessage:
    """One message a connector received, normalized.

    `external_id` is stable across redeliveries (Message-ID, update_id, an idempotency
    key), so the core can drop duplicates by (channel, external_id).
    """

    channel: str
    connector_id: str
    external_id: str
    sender: Address
    text: str
    subject: str | None = None
    html: str | None = None
    # Other identities the sender gave us with this message (a form's email and phone).
    identities: tuple[Address, ...] = ()
    # The locale the sender chose, if the channel lets them choose ("en", "bn").
    language: str | None = None
    # Where a reply should go; None means the channel cannot be answered.
    reply_to: Address | None = None
    # A conversation several people share (a group chat): its messages thread onto one
    # ticket whoever sent them, and agents' replies go to it rather than to the sender.
    conversation: Address | None = None
    received_at: datetime | None = None
    # When the sender says they sent it (an email's Date); with `received_at`, how old the
    # message is: a backlog imported weeks late gets no acknowledgement.
    sent_at: datetime | None = None
    # An automatic message (auto-reply, bounce, list mail): ticketed, never auto-answered.
    auto_submitted: bool = False
    attachments: tuple[Attachment, ...] = ()
    # Threading hints, for channels that have them (email): the message ids this one
    # answers, newest last, and the thread marker found in the quoted text of our reply.
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    thread_marker: str | None = None
    # For a delivery-status report: the ids of our messages that could not be delivered.
    bounced_message_ids: tuple[str, ...] = ()
    # Attachments the connector could not keep (over the size cap), with the reason.
    dropped_attachments: tuple[DroppedAttachment, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    # The external_id is a key the client chose (a form's Idempotency-Key): the core binds
    # it to the request, so the same key with another request is refused
    # (IdempotencyConflict) instead of answered with the first request's ticket.
    client_key: bool = False
    # The payload of the `Choice` the sender picked (a button press, a quick reply), as the
    # core gave it; `text` is then the choice's label.
    choice: str | None = None


@dataclass(frozen=True)
class TicketAlert:
    """One ticket in a team-channel notification."""

    ref: str
    url: str  # the ticket in the agent inbox
    subject: str
    team: str  # the team's display name
    priority: str
    # "opened", "escalated", or "sla_warning" / "sla_breached" (a service-level deadline)
    event: str
    # Why it is escalated ("priority urgent", "tag vip"), or which deadline ("first response
    # due 2027-01-05 10:30 UTC").
    reason: str = ""

    @property
    def what(self) -> str:
        """What happened, in a few words, for every service's line."""
        if self.event == "escalated":
            return f"escalated: {self.reason}"
        if self.event == "sla_warning":
            return f"SLA warning: {self.reason}"
        if self.event == "sla_breached":
            return f"SLA breached: {self.reason}"
        return f"new, {self.reason}" if self.reason else "new"


@dataclass(frozen=True)
class Notice:
    """A notification for a team's channel (Slack, Teams): a headline and its tickets."""

    title: str
    alerts: tuple[TicketAlert, ...]

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "alerts": [vars(a) for a in self.alerts]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notice:
        return cls(data["title"], tuple(TicketAlert(**a) for a in data["alerts"]))


@dataclass(frozen=True)
class TemplateMessage:
    """An operator-approved template named in the hub's own config (a greeting, a
    campaign), its body parameters already filled: sent as is on a channel with a reply
    window, outside the window (hub.proactive.templates)."""

    name: str
    language: str
    params: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "language": self.language, "params": list(self.params)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TemplateMessage:
        return cls(str(data["name"]), str(data["language"]), tuple(map(str, data["params"])))


@dataclass(frozen=True)
class OutboundMessage:
    """One message the hub sends. `idempotency_key` is the same on every retry."""

    connector_id: str
    to: Address
    text: str
    idempotency_key: str
    subject: str | None = None
    html: str | None = None
    ticket_ref: str | None = None
    auto_submitted: bool = False
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    # A signed ticket marker ("T-123.<mac>") to embed invisibly, for channels (email) whose
    # providers may rewrite our message ids: a reply quoting it still finds its ticket.
    thread_marker: str | None = None
    # A link that withdraws consent (greetings, campaigns): email sends List-Unsubscribe.
    list_unsubscribe: str | None = None
    # A team-channel notification; `text` is its plain-text rendering.
    notice: Notice | None = None
    # Channels with a reply window (WhatsApp): outside it an agent's reply goes out as this
    # operator-approved template (the connector's own reference, hub.connector.ReplyWindow).
    template: str | None = None
    # A proactive message's approved template with its parameters (hub.proactive.templates).
    template_message: TemplateMessage | None = None
    # Answers to offer as buttons (a survey's 1-5): a connector that can shows them natively
    # (inline keyboard, reply buttons, quick replies); `text` still asks the question.
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class MessageEvent:
    """Something that happened to a message already on record: a delivery status of one
    we sent, an edit, a deletion or a reaction to one either side sent.

    `ref` is the channel's id of that message: an inbound message's `external_id`, or the
    id our `send()` returned for an outbound one. `key` is stable across redeliveries, so
    an event delivered twice is recorded once.
    """

    channel: str
    connector_id: str
    ref: str
    kind: str  # status | edit | delete | reaction
    key: str
    # The status (sent, delivered, read, failed), the new text, or the emoji ("" removes it).
    value: str | None = None
    occurred_at: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SubmitResult:
    """What the core did with an inbound message."""

    message_id: int
    # None when no ticket was needed: the chat bot answered, or greeted.
    ticket_id: int | None
    ticket_ref: str | None
    customer_id: int
    duplicate: bool
