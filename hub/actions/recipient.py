"""Who an agent's reply goes to: the shared conversation, or one of the customer's
reachable addresses of a kind the reply's connector delivers to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.actions.ticket_status import ActionRefused
from hub.channels.directory import ReplyRoute
from hub.messages import Address
from hub.store.schema import customers, identities
from hub.tickets.records import conversation_address


async def recipient(
    conn: AsyncConnection, ticket: Any, last_in: Any, route: ReplyRoute, kinds: tuple[str, ...]
) -> Address:
    if ticket.conversation is not None and route.connector_id == ticket.connector_id:
        # A shared conversation (a group chat) is answered where it is held, for all in it.
        return conversation_address(ticket.conversation)
    name = (
        await conn.execute(
            select(customers.c.display_name).where(customers.c.id == ticket.customer_id)
        )
    ).scalar_one()
    reachable = (
        await conn.execute(
            select(identities.c.kind, identities.c.value)
            .where(
                identities.c.customer_id == ticket.customer_id,
                identities.c.unreachable.is_(False),
            )
            .order_by(identities.c.id)
        )
    ).all()
    if kinds:
        usable = [i for i in reachable if i.kind in kinds]
    elif route.connector_id == last_in.connector_id:
        # A channel that answers itself (a chat) writes back to whoever wrote.
        usable = [i for i in reachable if i.value == last_in.sender]
    else:
        raise ActionRefused(f"connector {route.connector_id!r} declares no address kind")
    # The address the customer wrote from, else their newest one of a kind the route serves.
    chosen = next((i for i in usable if i.value == last_in.sender), usable[-1] if usable else None)
    if chosen is None:
        wanted = " or ".join(kinds) or "the sender's"
        raise ActionRefused(f"this customer has no reachable {wanted} address to answer by")
    return Address(chosen.kind, chosen.value, name)
