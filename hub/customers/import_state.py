"""A customer import's in-memory state: each customer and purchase as one batch sees it
(loaded or new, then changed by the rows), and what the batch did. hub.customers.import_batch
loads, changes and writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.customers.import_file import ADDRESS_COLUMNS, CONSENT_CHANNELS, Reject
from hub.customers.import_rows import Row
from hub.messages import Address

# Customer columns a row sets outright (tags merge instead). A file may give each of them
# only one value per customer: two different ones would make every re-run rewrite the field.
_SET_ONCE = (
    "name",
    "gender",
    "locale",
    "timezone",
    "birthday",
    "anniversary",
    *ADDRESS_COLUMNS,
    *(f"consent_{c}" for c in CONSENT_CHANNELS),
)
CLAIM_BIT = {name: 1 << i for i, name in enumerate(_SET_ONCE)}
SCALAR_COLUMNS = {
    "name": "display_name",
    "gender": "gender",
    "locale": "locale",
    "timezone": "timezone",
    "birthday": "birthday",
    "anniversary": "anniversary",
}


CUSTOMER_FIELDS = (
    "display_name",
    "locale",
    "timezone",
    "gender",
    "birthday",
    "anniversary",
    "address",
    "tags",
)
PURCHASE_FIELDS = ("order_ref", "amount", "currency", "purchased_at", "items")


@dataclass
class BatchConsent:
    status: str
    source: str
    recorded_at: datetime


@dataclass(eq=False)
class BatchCustomer:
    """A customer as one batch sees it: loaded (or new), then changed in memory."""

    id: int | None
    values: dict[str, Any]
    consents: dict[str, BatchConsent]
    created_on: int | None = None
    # Which _SET_ONCE columns earlier rows of this file set, and the first such line.
    claimed: int = 0
    first_line: int = 0
    before: dict[str, Any] = field(default_factory=dict)
    new_identities: list[Address] = field(default_factory=list)
    consent_inserts: set[str] = field(default_factory=set)
    consent_updates: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        v = self.values
        self.before = {**v, "address": dict(v["address"]), "tags": list(v["tags"])}

    @property
    def label(self) -> str:
        if self.id is None:
            return f"the new customer from line {self.created_on}"
        return f"customer {self.id}"

    def current(self, col: str) -> Any:
        if col in SCALAR_COLUMNS:
            return self.values[SCALAR_COLUMNS[col]]
        if col.startswith("consent_"):
            c = self.consents.get(col.removeprefix("consent_"))
            return c.status if c else None
        return self.values["address"].get(col)

    def conflicts(self, row: Row) -> list[str]:
        given = {
            **row.scalars,
            **row.address,
            **{f"consent_{c}": s for c, s in row.consents.items()},
        }
        return [
            f"{col}: {value} differs from {self.current(col)}, given for the same customer "
            f"earlier in this file (its first row is line {self.first_line})"
            for col, value in given.items()
            if self.claimed & CLAIM_BIT[col] and value != self.current(col)
        ]

    @property
    def changed(self) -> bool:
        return bool(
            self.values != self.before
            or self.new_identities
            or self.consent_inserts
            or self.consent_updates
        )


@dataclass(eq=False)
class BatchPurchase:
    id: int | None
    customer: BatchCustomer
    values: dict[str, Any]


@dataclass
class BatchOutcome:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    # Insertion-ordered set: every customer a row of this batch matched or created.
    touched: dict[BatchCustomer, None] = field(default_factory=dict)
    purchases_added: int = 0
    purchases_updated: int = 0
    purchases_unchanged: int = 0
    consents_kept: int = 0
    rejects: list[Reject] = field(default_factory=list)
    # Customer id -> (tags before, tags after), sorted, where the batch changed them: what
    # the SLA policies of their open tickets may match on (hub.actions.customer_edit).
    tag_changes: dict[int, tuple[list[str], list[str]]] = field(default_factory=dict)
