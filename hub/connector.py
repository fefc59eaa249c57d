"""The seam between the core and the channels.

Connectors import this module and `hub.messages` only; the core finds connector types
through the `hub.connectors` entry-point group and never imports them by name.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

# Every body a connector parses goes through the core's one guarded reader.
from hub.core.guarded_json import BadText as BadText
from hub.core.guarded_json import HostileBody as HostileBody
from hub.core.guarded_json import Limits, loads
from hub.core.guarded_json import bad_text as bad_text

# Connectors retry with the core's one backoff formula (bounded at any attempt count).
from hub.core.periodic import backoff_delay as backoff_delay

# The web form and the web chat limit senders with the core's one token bucket.
from hub.core.ratelimit import TokenBuckets as TokenBuckets

# The CRM sync's seam (hub.crm_seam), for the CRM connectors.
from hub.crm_seam import CrmAuthError as CrmAuthError
from hub.crm_seam import CrmChange as CrmChange
from hub.crm_seam import CrmConnector as CrmConnector
from hub.crm_seam import CrmContact as CrmContact
from hub.crm_seam import CrmContext as CrmContext
from hub.crm_seam import CrmFactory
from hub.crm_seam import CrmOutcome as CrmOutcome
from hub.crm_seam import CrmPage as CrmPage
from hub.crm_seam import CrmRateLimited as CrmRateLimited
from hub.crm_seam import CrmSync as CrmSync
from hub.crm_seam import CrmUnavailable as CrmUnavailable
from hub.crm_seam import ErasureAction as ErasureAction
from hub.messages import Address, InboundMessage, MessageEvent, OutboundMessage, SubmitResult

# The guarded reader under the names connectors know it by.
read_json = loads
JsonLimits = Limits

if TYPE_CHECKING:
    from aiohttp import web


class ConnectorNotReady(Exception):
    """The channel is unreachable for now; the supervisor retries with backoff."""


class ConnectorAuthError(Exception):
    """The channel refused our credentials; the connector is disabled until fixed."""


class ConnectorConfig(BaseModel):
    """Fields every connector entry has. Each connector type subclasses this."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    type: str
    # Sends through this connector are limited to this many a minute (None: no limit).
    rate_limit_per_minute: float | None = Field(default=None, gt=0)
    # Replies to messages received here go out through this connector (default: itself).
    reply_via: str | None = None


class Normalizer(Protocol):
    def __call__(self, raw: str) -> str | None: ...


class ConnectorStorage(Protocol):
    """The little a connector may keep in the hub's database, namespaced by its id."""

    async def get(self, key: str) -> Any:
        """A value stored with put(), or None."""

    async def put(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value (a checkpoint) durably."""

    async def acquire_lease(self, name: str, ttl_seconds: float) -> bool:
        """Take or renew a lease only one hub process can hold (one mailbox reader)."""

    async def release_lease(self, name: str) -> None: ...

    async def quarantine(
        self,
        raw: bytes,
        reason: str,
        external_id: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> int:
        """Keep input that could not become a message, byte for byte, with the reason."""


class PermanentSendError(Exception):
    """The channel refused this message for good (unknown recipient): no retry helps."""


class RecipientUnreachable(PermanentSendError):
    """The recipient can no longer be reached on this channel (blocked the bot, deleted the
    account): the core may mark `address` unreachable rather than keep writing to it."""

    def __init__(self, reason: str, address: Address) -> None:
        super().__init__(reason)
        self.address = address


class RetryLater(Exception):
    """The channel asked us to wait (a rate limit): retry this message after `seconds`."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(f"{reason} (retry after {seconds:g}s)")
        self.seconds = seconds


class IngestUnavailable(RuntimeError):
    """The hub could not store the message now (storage down, shutting down): the
    connector must not acknowledge it, so the sender retries."""


class IdempotencyConflict(ValueError):
    """submit() was given a client's idempotency key already used for a different request:
    nothing is stored, and the first request's result is not shown to this sender."""


@dataclass(frozen=True)
class HubContext:
    """What one connector may use of the core."""

    connector_id: str
    # Stores the message durably and returns only after commit; raises IngestUnavailable.
    submit: Callable[[InboundMessage], Awaitable[SubmitResult]]
    normalize_email: Normalizer
    normalize_phone: Normalizer
    locales: tuple[str, ...]
    default_locale: str
    public_url: str
    logger: logging.Logger
    # Tell the supervisor about a failure after start(): ConnectorAuthError disables the
    # connector, anything else marks it not ready until it recovers; None: recovered.
    report: Callable[[Exception | None], None]
    storage: ConnectorStorage
    # The hub's signing key: sign visitor cookies with it.
    signing_key: bytes
    # (address, limit) -> the conversation with that address on this connector, oldest
    # first, as hub.channels.conversation.HistoryItem-like objects (direction, text,
    # created_at, kind).
    history: Callable[[Address, int], Awaitable[list[Any]]]
    # Records statuses, edits, deletions and reactions on the messages they concern;
    # returns after commit (raises IngestUnavailable), with how many were new.
    record_events: Callable[[Sequence[MessageEvent]], Awaitable[int]]
    # Live notices to this connector's twins in the other hub processes on the same
    # database (hub.channels.broadcast): publish(topic, JSON-able payload); subscribe(topic, fn)
    # calls fn(payload) for notices from the others. Best effort: for live pushes only.
    publish: Callable[[str, dict[str, Any]], Awaitable[None]]
    subscribe: Callable[[str, Callable[[dict[str, Any]], None]], None]


@runtime_checkable
class Connector(Protocol):
    config: ConnectorConfig

    async def start(self) -> None:
        """Connect and begin receiving; raise ConnectorNotReady or ConnectorAuthError."""

    async def stop(self) -> None: ...

    async def send(self, msg: OutboundMessage) -> str:
        """Deliver one message and return the channel's id for it."""
        ...

    def web_app(self) -> web.Application | None:
        """An aiohttp sub-app mounted under /channels/<id>/, or None."""
        ...


@dataclass(frozen=True)
class ReplyWindow:
    """A channel that lets a business write freely only for a while after the customer's
    last message (WhatsApp, Messenger: 24 hours). Outside it an agent's free text is
    refused before it is queued; `template_for(config, locale)` names the approved
    template to send instead (None: there is none for that locale, or no such thing)."""

    hours: float
    template_for: Callable[[Any, str], str | None] | None = None


@dataclass(frozen=True)
class ConnectorType:
    name: str
    config_model: type[ConnectorConfig]
    create: Callable[[Any, HubContext], Connector]
    # Inbound-only or outbound-only channels say so, so config checks can catch misuse.
    can_send: bool = True
    can_receive: bool = True
    # The identity kinds this type delivers to ("email"): proactive messages (greetings)
    # find their connector by the customer's channel.
    sends_to: tuple[str, ...] = ()
    # The channel names its messages carry (`InboundMessage.channel`, a ticket's channel):
    # what routing rules, SLA policies and agents' skills may name.
    channels: tuple[str, ...] = ()
    # "conversation": messages thread onto the customer's open ticket on the channel (chat,
    # forms). "reference": only onto the ticket their hints name, else a new one (email).
    threads_by: str = "conversation"
    # A live chat (Telegram, the web widget): the chat bot answers first, replies go back
    # into the chat, and no email-style acknowledgement is sent.
    chat: bool = False
    # Posts the hub's ticket notifications to a team's channel (Slack, Teams), never to
    # customers: routing rules name such connectors under `notify`.
    notifies: bool = False
    # Adds the connector's own `hub <name> ...` commands to the CLI (e.g. `hub email parse`).
    add_cli: Callable[[argparse._SubParsersAction], None] | None = None  # type: ignore[type-arg]
    # Free text only within a while of the customer's last message (see ReplyWindow).
    reply_window: ReplyWindow | None = None
    # Shows `OutboundMessage.choices` as native buttons and hands a press back as
    # `InboundMessage.choice`; for other channels the core writes links into the text.
    choices: bool = False
    # A CRM (HubSpot, Salesforce): not a channel; hub.crm syncs customers through the
    # client this makes, and the hub starts no Connector for it.
    crm: CrmFactory | None = None


class ConnectorRegistry:
    """Connector types by name, discovered from installed entry points."""

    GROUP: ClassVar[str] = "hub.connectors"

    def __init__(self, types: dict[str, ConnectorType] | None = None) -> None:
        self._types = dict(types or {})

    @classmethod
    def discover(cls) -> ConnectorRegistry:
        types: dict[str, ConnectorType] = {}
        for ep in entry_points(group=cls.GROUP):
            ctype = ep.load()
            types[ctype.name] = ctype
        return cls(types)

    def get(self, name: str) -> ConnectorType | None:
        return self._types.get(name)

    def names(self) -> list[str]:
        return sorted(self._types)

    def channels(self) -> set[str]:
        """Every channel name a registered type's messages carry."""
        return {c for t in self._types.values() for c in t.channels}
