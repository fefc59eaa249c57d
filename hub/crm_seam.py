"""The seam between the CRM sync (hub.crm) and the CRM connectors (HubSpot, Salesforce).

A CRM connector is a connector type whose `crm` factory makes a `CrmConnector`: a small
client that pushes contacts in batches, lists contacts changed since a time, and removes
one. Everything else (which fields, which way, conflicts, cursors, retries) is the core's,
configured in the connector's `sync:` block (`CrmSync`). Connectors reach these names
through `hub.connector`, which re-exports them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The customer fields a mapping may name. email and phone are the customer's newest
# identity of that kind; address.* are the keys of the postal address; tags a list.
HUB_FIELDS = (
    "display_name",
    "locale",
    "timezone",
    "gender",
    "birthday",
    "anniversary",
    "tags",
    "email",
    "phone",
    "address.street",
    "address.city",
    "address.region",
    "address.postal_code",
    "address.country",
)

Direction = Literal["hub->crm", "crm->hub", "both"]
ConflictPolicy = Literal["hub_wins", "crm_wins", "most_recent"]
ErasureAction = Literal["delete", "archive"]


class CrmField(BaseModel):
    """One hub field <-> one CRM property."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hub: str
    crm: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
    direction: Direction = "both"

    @field_validator("hub")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in HUB_FIELDS:
            raise ValueError(f"unknown hub field {v!r} (one of {', '.join(HUB_FIELDS)})")
        return v


class CrmSync(BaseModel):
    """What a CRM connector syncs and how (the `sync:` block of its entry)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: list[CrmField] = Field(min_length=1, max_length=100)
    # Both sides changed a field since the last sync: whose value stays.
    conflict: ConflictPolicy = "most_recent"
    # A value an agent typed into the hub is kept against CRM changes unless this is true.
    overwrite_agent_edits: bool = False
    # A contact changed in the CRM that matches no customer becomes a new one.
    create_customers: bool = True
    # Customers are pushed in batches of at most this many (the client may split further).
    batch_size: int = Field(default=100, ge=1, le=1000)
    push_interval_seconds: float = Field(default=10.0, gt=0, le=86400)
    pull_interval_seconds: float = Field(default=60.0, gt=0, le=86400)
    # Pulls ask for changes since the cursor minus this: a record the CRM stamped late, or
    # several with one timestamp, is seen again (applying it twice changes nothing).
    pull_overlap_seconds: float = Field(default=300.0, ge=0, le=86400)
    # An erased customer's CRM record is deleted or archived.
    erasure: ErasureAction = "archive"
    # A failed push is retried with backoff up to this delay, for ever: nothing is dropped.
    max_backoff_seconds: float = Field(default=900.0, gt=0, le=86400)

    @field_validator("fields")
    @classmethod
    def _one_property_each(cls, v: list[CrmField]) -> list[CrmField]:
        hub_seen = [f.hub for f in v]
        crm_seen = [f.crm.lower() for f in v]
        if len(set(hub_seen)) != len(hub_seen) or len(set(crm_seen)) != len(crm_seen):
            raise ValueError("each hub field and each CRM property may be mapped once")
        return v


@dataclass(frozen=True)
class CrmChange:
    """One customer to write to the CRM: create it, or update the record it is linked to."""

    hub_id: int
    # The CRM's id for the record when the hub knows it (the stored identity), else None:
    # the connector looks it up by email, then phone, then creates it.
    remote_id: str | None
    email: str | None
    phone: str | None
    # CRM property -> value (None clears it), already mapped and formatted.
    properties: Mapping[str, str | None]


@dataclass(frozen=True)
class CrmOutcome:
    """What became of one CrmChange: the record's id, or why the CRM refused it."""

    hub_id: int
    remote_id: str | None = None
    # The CRM refused this record (a 207 item, a duplicate match): retried later, shown.
    error: str | None = None


@dataclass(frozen=True)
class CrmContact:
    """A record as the CRM has it now."""

    remote_id: str
    modified_at: datetime
    # CRM property -> value, for the mapped properties.
    properties: Mapping[str, str | None]
    # The hub's customer id the CRM keeps (HubSpot's id property, Salesforce's external
    # id field), and the record's email and phone: what a pull matches a customer by.
    hub_id: int | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class CrmPage:
    contacts: Sequence[CrmContact]
    # Opaque: give it back to read the next page of the same query; None: the last page.
    next_page: str | None = None


class CrmUnavailable(Exception):
    """The CRM did not answer usably (refused connection, time-out, 5xx): retry later."""


class CrmAuthError(CrmUnavailable):
    """The CRM refused our credentials (after a refresh, where there is one)."""


class CrmRateLimited(CrmUnavailable):
    """The CRM asked us to wait `seconds` (429, REQUEST_LIMIT_EXCEEDED)."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(f"{reason} (retry after {seconds:g}s)")
        self.seconds = seconds


@dataclass(frozen=True)
class CrmContext:
    connector_id: str
    logger: logging.Logger
    # The clock and the sleep the client paces its requests by (tests pass fake ones).
    monotonic: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]


class CrmConnector(Protocol):
    # How many records one write request may carry (HubSpot 100, Salesforce 200).
    batch_limit: ClassVar[int]

    async def push(self, changes: Sequence[CrmChange]) -> list[CrmOutcome]:
        """Write the records, one outcome per change; raise CrmUnavailable if the CRM
        could not be asked (nothing is known to be written then; the push is repeated)."""
        ...

    async def changed_since(self, since: datetime, page: str | None) -> CrmPage:
        """Records modified at or after `since`, oldest first."""
        ...

    async def remove(self, remote_id: str, action: ErasureAction) -> None:
        """Delete or archive a record; one already gone is not an error."""

    async def close(self) -> None: ...


# (connector config, context) -> the client; the config model has a `sync: CrmSync`.
CrmFactory = Callable[[Any, CrmContext], CrmConnector]
