"""Writing customer records by hand (API): new customers, identities, purchases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.core.identity import normalize_address
from hub.customers.field_edits import record_edits
from hub.customers.occasions import md_columns
from hub.customers.views import CustomerPatch
from hub.events.outgoing import CUSTOMER_CREATED, CUSTOMER_UPDATED, OutgoingEvent, emit
from hub.messages import Address
from hub.store import utcnow
from hub.store.schema import customers, identities, purchases


class RecordRefused(ValueError):
    """Taken already, or the last of something: the message says which (HTTP 409)."""


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # email, phone, or a channel's handle kind (telegram, webchat, ...)
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]
    display_name: Annotated[str, StringConstraints(max_length=200)] | None = None


class CustomerCreate(CustomerPatch):
    identities: list[IdentityIn] = Field(min_length=1, max_length=20)


class PurchaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_ref: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    # NUMERIC(14, 2) in the database: at most twelve digits before the point.
    amount: Decimal = Field(ge=0, lt=Decimal(10**12), max_digits=14, decimal_places=2)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    purchased_at: AwareDatetime
    items: Annotated[str, StringConstraints(max_length=5000)] | None = None

    @field_validator("purchased_at")
    @classmethod
    def _plausible(cls, v: datetime) -> datetime:
        if not datetime(1970, 1, 1, tzinfo=UTC) <= v <= datetime.now(UTC) + timedelta(days=1):
            raise ValueError("must be between 1970 and now")
        return v


def _normalized(ident: IdentityIn, region: str) -> Address:
    found = normalize_address(Address(ident.kind, ident.value, ident.display_name), region)
    if found is None:
        raise ValueError(f"{ident.value!r} is not a valid {ident.kind}")
    return found


async def _owner(conn: AsyncConnection, addr: Address) -> int | None:
    return (
        await conn.execute(
            select(identities.c.customer_id).where(
                identities.c.kind == addr.kind, identities.c.value == addr.value
            )
        )
    ).scalar_one_or_none()


@dataclass(frozen=True)
class CustomerDefaults:
    """What a new customer gets where the request says nothing."""

    locales: list[str]
    default_locale: str
    default_timezone: str
    region: str


async def create_customer(
    conn: AsyncConnection,
    body: CustomerCreate,
    *,
    locales: list[str],
    default_locale: str,
    default_timezone: str,
    region: str,
) -> int:
    """A new customer with its identities; ValueError if invalid, RecordRefused if taken."""
    defaults = CustomerDefaults(locales, default_locale, default_timezone, region)
    return await insert_customer(conn, body, defaults)


async def insert_customer(
    conn: AsyncConnection,
    body: CustomerCreate,
    defaults: CustomerDefaults,
    source: str = "api",
) -> int:
    """As create_customer; `source` labels its customer.created event (a CRM's pull: the
    record is not pushed back there)."""
    locales, region = defaults.locales, defaults.region
    default_locale, default_timezone = defaults.default_locale, defaults.default_timezone
    values = body.values(locales)
    values.setdefault("locale", default_locale)
    values.setdefault("timezone", default_timezone)
    values.pop("identities", None)
    addrs = {(a.kind, a.value): a for a in (_normalized(i, region) for i in body.identities)}
    for addr in addrs.values():
        if (owner := await _owner(conn, addr)) is not None:
            raise RecordRefused(f"{addr.kind} {addr.value} belongs to customer {owner}")
    now = utcnow()
    row: dict[str, Any] = {
        "address": {},
        "tags": [],
        **values,
        "created_at": now,
        "updated_at": now,
    }
    customer_id = (
        await conn.execute(customers.insert().values(**md_columns(row)).returning(customers.c.id))
    ).scalar_one()
    for addr in addrs.values():
        await _insert_identity(conn, customer_id, addr)
    data = {"customer_id": customer_id, "source": source}
    event = OutgoingEvent(CUSTOMER_CREATED, data, customer_id=customer_id)
    await emit(conn, [event], now)
    return int(customer_id)


async def _insert_identity(conn: AsyncConnection, customer_id: int, addr: Address) -> int:
    return int(
        (
            await conn.execute(
                identities.insert()
                .values(
                    customer_id=customer_id,
                    kind=addr.kind,
                    value=addr.value,
                    display_name=addr.display_name,
                    unreachable=False,
                    created_at=utcnow(),
                )
                .returning(identities.c.id)
            )
        ).scalar_one()
    )


async def add_identity(
    conn: AsyncConnection, customer_id: int, ident: IdentityIn, region: str, source: str = "api"
) -> Any:
    """`source` says who added it (an agent, a CRM's pull) for integrations."""
    addr = _normalized(ident, region)
    if (owner := await _owner(conn, addr)) is not None:
        raise RecordRefused(f"{addr.kind} {addr.value} belongs to customer {owner}")
    new_id = await _insert_identity(conn, customer_id, addr)
    await _identities_changed(conn, customer_id, addr.kind, source)
    return (await conn.execute(select(identities).where(identities.c.id == new_id))).one()


async def _identities_changed(
    conn: AsyncConnection, customer_id: int, kind: str, source: str
) -> None:
    """Email and phone are customer fields to integrations (a CRM maps them)."""
    now = utcnow()
    await record_edits(conn, customer_id, [kind], source, now)
    data = {"customer_id": customer_id, "fields": [kind], "source": source}
    await emit(conn, [OutgoingEvent(CUSTOMER_UPDATED, data, customer_id=customer_id)], now)


async def remove_identity(conn: AsyncConnection, customer_id: int, identity_id: int) -> bool:
    """False: no such identity on this customer. The last identity cannot go."""
    mine = select(identities.c.id).where(identities.c.customer_id == customer_id)
    ids = [r.id for r in await conn.execute(mine)]
    if identity_id not in ids:
        return False
    if len(ids) == 1:
        raise RecordRefused("a customer keeps at least one identity")
    kind = (
        await conn.execute(
            identities.delete().where(identities.c.id == identity_id).returning(identities.c.kind)
        )
    ).scalar_one()
    await _identities_changed(conn, customer_id, kind, "api")
    return True


async def add_purchase(conn: AsyncConnection, customer_id: int, p: PurchaseIn) -> Any:
    taken = (
        await conn.execute(
            select(purchases.c.customer_id).where(purchases.c.order_ref == p.order_ref)
        )
    ).first()
    if taken is not None:
        raise RecordRefused(f"order {p.order_ref} is recorded already")
    new_id = (
        await conn.execute(
            purchases.insert()
            .values(
                customer_id=customer_id,
                order_ref=p.order_ref,
                amount=p.amount,
                currency=p.currency,
                purchased_at=p.purchased_at,
                items=p.items,
                created_at=utcnow(),
            )
            .returning(purchases.c.id)
        )
    ).scalar_one()
    return (await conn.execute(select(purchases).where(purchases.c.id == new_id))).one()


async def list_purchases(
    conn: AsyncConnection, customer_id: int, limit: int, offset: int
) -> list[Any]:
    return (
        await conn.execute(
            select(purchases)
            .where(purchases.c.customer_id == customer_id)
            .order_by(purchases.c.purchased_at.desc(), purchases.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
