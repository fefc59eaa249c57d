"""Customers as agents see and edit them: visibility by team, lists, the 360 record, edits."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import and_, exists, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.agents.accounts import Actor
from hub.core.identity import normalize_email, normalize_phone
from hub.customers.field_edits import edited_fields, record_edits
from hub.customers.occasions import md_columns
from hub.events.outgoing import CUSTOMER_UPDATED, OutgoingEvent, emit
from hub.store import utcnow
from hub.store.schema import (
    consents,
    customer_merges,
    customers,
    duplicate_suggestions,
    identities,
    purchases,
    tickets,
)
from hub.tickets.queries import json_list_contains, visible_to

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
ADDRESS_KEYS = ("street", "city", "region", "postal_code", "country")


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: Short | None = None
    city: Short | None = None
    region: Short | None = None
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None


def _past_date(v: date | None) -> date | None:
    if v is not None and not date(1900, 1, 1) <= v <= date.today():
        raise ValueError("must be a date between 1900-01-01 and today")
    return v


class CustomerPatch(BaseModel):
    """A partial update: only the fields given change; null clears an optional one."""

    model_config = ConfigDict(extra="forbid")

    display_name: Short | None = None
    locale: Annotated[str, StringConstraints(max_length=16)] | None = None
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    gender: Annotated[str, StringConstraints(max_length=32)] | None = None
    birthday: date | None = None
    anniversary: date | None = None
    address: Address | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)

    _dates = field_validator("birthday", "anniversary")(_past_date)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r}") from None
        return v

    def values(self, locales: list[str]) -> dict[str, Any]:
        """Column values to write; raises ValueError for a locale the hub does not serve."""
        given = {k: getattr(self, k) for k in self.model_fields_set}
        for required in ("locale", "timezone"):
            if required in given and given[required] is None:
                raise ValueError(f"{required} cannot be cleared")
        if given.get("locale") is not None and given["locale"] not in locales:
            raise ValueError(f"locale must be one of {', '.join(locales)}")
        if "address" in given:
            address = self.address
            given["address"] = address.model_dump(exclude_none=True) if address else {}
        if "tags" in given:
            given["tags"] = sorted(set(self.tags or []))
        return given


def customers_visible_to(actor: Actor) -> Any:
    if actor.is_admin:
        return true()
    return exists().where(tickets.c.customer_id == customers.c.id, visible_to(actor))


async def customer_visible(conn: AsyncConnection, actor: Actor, customer_id: int) -> bool | None:
    """None: no such customer; False: only other teams' customers; True: may see."""
    found = (
        await conn.execute(
            select(customers.c.id, customers_visible_to(actor).label("ok")).where(
                customers.c.id == customer_id
            )
        )
    ).first()
    return None if found is None else bool(found.ok)


@dataclass(frozen=True)
class CustomerSearch:
    """One page of the customer list, narrowed by a search text and a tag when given."""

    q: str | None
    tag: str | None
    limit: int
    offset: int


async def list_customers(
    conn: AsyncConnection, actor: Actor, search: CustomerSearch, *, phone_region: str
) -> list[Any]:
    where = [customers_visible_to(actor)]
    if q := search.q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        exact = {v for v in (normalize_email(q), normalize_phone(q, phone_region)) if v}
        who = select(identities.c.customer_id).where(
            or_(identities.c.value.in_(sorted(exact)), identities.c.value.ilike(pattern, "\\"))
        )
        where.append(or_(customers.c.display_name.ilike(pattern, "\\"), customers.c.id.in_(who)))
    if search.tag:
        where.append(json_list_contains(customers.c.tags, conn.dialect.name, search.tag))
    query = select(customers).where(and_(*where)).order_by(customers.c.id.desc())
    return (await conn.execute(query.limit(search.limit).offset(search.offset))).all()


async def customer_360(conn: AsyncConnection, actor: Actor, customer_id: int) -> dict[str, Any]:
    row = (await conn.execute(select(customers).where(customers.c.id == customer_id))).one()
    ids = await conn.execute(
        select(identities).where(identities.c.customer_id == customer_id).order_by(identities.c.id)
    )
    cons = await conn.execute(select(consents).where(consents.c.customer_id == customer_id))
    ticks = await conn.execute(
        select(tickets)
        .where(tickets.c.customer_id == customer_id, visible_to(actor))
        .order_by(tickets.c.id)
    )
    buys = await conn.execute(
        select(purchases)
        .where(purchases.c.customer_id == customer_id)
        .order_by(purchases.c.purchased_at)
    )
    return {
        "customer": row,
        "identities": ids.all(),
        "consents": cons.all(),
        "tickets": ticks.all(),
        "purchases": buys.all(),
    }


async def identities_of(conn: AsyncConnection, customer_id: int) -> list[Any]:
    """The customer's addresses (kind, value), sorted for showing."""
    return (
        await conn.execute(
            select(identities.c.kind, identities.c.value)
            .where(identities.c.customer_id == customer_id)
            .order_by(identities.c.kind, identities.c.value)
        )
    ).all()


async def update_customer(
    conn: AsyncConnection, customer_id: int, values: dict[str, Any], source: str = "api"
) -> None:
    """Write the fields, record who set them, and tell integrations (customer.updated;
    `source` in the event, so a CRM does not hear back its own change)."""
    if values:
        now = utcnow()
        await conn.execute(
            update(customers)
            .where(customers.c.id == customer_id)
            .values(**md_columns(values), updated_at=now)
        )
        fields = edited_fields(values)
        await record_edits(conn, customer_id, fields, source, now)
        event = OutgoingEvent(
            CUSTOMER_UPDATED,
            {"customer_id": customer_id, "fields": fields, "source": source},
            customer_id=customer_id,
        )
        await emit(conn, [event], now)


async def list_suggestions(conn: AsyncConnection, actor: Actor, limit: int = 100) -> list[Any]:
    """Open duplicate suggestions whose two customers the actor may both see."""
    a = customers.alias("a")
    b = customers.alias("b")
    query = (
        select(
            duplicate_suggestions,
            a.c.display_name.label("customer_name"),
            b.c.display_name.label("other_name"),
        )
        .join(a, a.c.id == duplicate_suggestions.c.customer_id)
        .join(b, b.c.id == duplicate_suggestions.c.other_customer_id)
        .where(
            duplicate_suggestions.c.status == "open",
            a.c.merged_into.is_(None),
            b.c.merged_into.is_(None),
        )
        # The likeliest first (hub.dedup's score), then those flagged at ingest, newest first.
        .order_by(
            duplicate_suggestions.c.score.is_(None),
            duplicate_suggestions.c.score.desc(),
            duplicate_suggestions.c.id.desc(),
        )
        .limit(limit)
    )
    rows = (await conn.execute(query)).all()
    if actor.is_admin:
        return rows
    return [
        r
        for r in rows
        if await customer_visible(conn, actor, r.customer_id)
        and await customer_visible(conn, actor, r.other_customer_id)
    ]


async def merges_of(conn: AsyncConnection, customer_id: int) -> list[Any]:
    """Merges into this customer, newest first (for the 360 page and its undo buttons)."""
    return (
        await conn.execute(
            select(customer_merges)
            .where(customer_merges.c.survivor_id == customer_id)
            .order_by(customer_merges.c.id.desc())
        )
    ).all()
