"""One inbound message on its way through a group commit, and what each step made of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.customers.resolve import Customer
from hub.faq.chatbot import BotTurn
from hub.messages import Address, InboundMessage, SubmitResult
from hub.outbox.enqueue import Outbound
from hub.tickets.records import Ticket, TicketRequest, conversation_of, ticket_key
from hub.tickets.thread_match import subject_ticket_ids


class InvalidMessage(ValueError):
    """The connector handed over a message the core cannot accept (no usable sender)."""


@dataclass(slots=True, eq=False)
class Arrival:
    """Fields without a default are set by the step that learns them (unset before: an
    AttributeError, not a silent None), in this order: `message_id` (dedupe, on new
    messages only), `customer` and `new_customer` (customer_match), `request`
    (routing), `turn` (chat_bot), `ticket` and `opened` (ticketing, or the bot's /end),
    `bot_reply` and `ack` (chat_bot, acknowledge), and last `result` (every message)."""

    msg: InboundMessage
    # The sender's usable identities, normalized, sender first; none: InvalidMessage.
    addrs: list[Address]
    message_id: int = field(init=False)
    customer: Customer = field(init=False)
    # Created in this transaction: nobody else can see it, so it has no tickets yet.
    new_customer: bool = field(init=False)
    request: TicketRequest = field(init=False)
    # What the chat bot does with it (None: not a chat).
    turn: BotTurn | None = None
    ticket: Ticket | None = None
    # Whether `ticket` was opened for this message (its customer gets an acknowledgement).
    opened: bool = False
    bot_reply: Outbound | None = None
    ack: Outbound | None = None
    result: SubmitResult | Exception = field(init=False)


def conversation(msg: InboundMessage) -> str | None:
    return conversation_of(msg.conversation) if msg.conversation is not None else None


def message_ticket_key(msg: InboundMessage, customer_id: int) -> str:
    return ticket_key(customer_id, msg.channel, msg.connector_id, conversation(msg))


def command(msg: InboundMessage) -> str | None:
    command = msg.meta.get("command") if isinstance(msg.meta, dict) else None
    return command if isinstance(command, str) else None


def has_hints(msg: InboundMessage) -> bool:
    return bool(
        msg.in_reply_to
        or msg.references
        or msg.thread_marker
        or msg.bounced_message_ids
        or subject_ticket_ids(msg.subject)
    )
