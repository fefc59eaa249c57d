"""Each new message's customer: the one its sender's identities belong to, or a new one
speaking the message's language."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.loader import Config
from hub.core.language import detect_locale
from hub.customers.resolve import CustomerRequest, NewCustomer, resolve_customers
from hub.ingest.arrival import Arrival
from hub.messages import InboundMessage
from hub.store import Store


async def match_customers(
    store: Store, config: Config, conn: AsyncConnection, fresh: list[Arrival]
) -> None:
    """Sets each arrival's `customer` and `new_customer`."""
    resolved = await resolve_customers(
        store, conn, [CustomerRequest(a.addrs, _new_customer_factory(config, a.msg)) for a in fresh]
    )
    for a, (customer, created) in zip(fresh, resolved, strict=True):
        a.customer = customer
        a.new_customer = created


def _new_customer_factory(config: Config, msg: InboundMessage) -> Callable[[], NewCustomer]:
    def make() -> NewCustomer:
        return NewCustomer(
            display_name=msg.sender.display_name,
            locale=_new_customer_locale(config, msg),
            timezone=config.hub.timezone,
        )

    return make


def _new_customer_locale(config: Config, msg: InboundMessage) -> str:
    locales = config.hub.locales
    if msg.language in locales:
        return msg.language
    return detect_locale(msg.text, locales) or config.hub.default_locale
