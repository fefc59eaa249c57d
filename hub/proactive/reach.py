"""How a proactive message (a greeting, a campaign) reaches a customer, or why it cannot:
the first channel in the operator's order with a sender, the customer's opt-in, and a
reachable identity."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.customers.consent import OPT_IN, OPT_OUT
from hub.store.schema import consents, identities

Key = tuple[int, str]  # (customer id, channel)


async def consents_of(conn: AsyncConnection, ids: Sequence[int]) -> dict[Key, str]:
    rows = await conn.execute(
        select(consents.c.customer_id, consents.c.channel, consents.c.status).where(
            consents.c.customer_id.in_(list(ids))
        )
    )
    return {(r.customer_id, r.channel): r.status for r in rows}


async def reachable_of(
    conn: AsyncConnection, ids: Sequence[int], channels: Sequence[str]
) -> dict[Key, str]:
    """Each customer's first reachable identity on each channel."""
    rows = await conn.execute(
        select(identities.c.customer_id, identities.c.kind, identities.c.value)
        .where(
            identities.c.customer_id.in_(list(ids)),
            identities.c.kind.in_(list(channels)),
            identities.c.unreachable.is_(False),
        )
        .order_by(identities.c.id)
    )
    out: dict[Key, str] = {}
    for r in rows:
        out.setdefault((r.customer_id, r.kind), r.value)
    return out


def choose_channel(
    customer_id: int,
    channel_order: Sequence[str],
    senders: Mapping[str, str],
    consent: Mapping[Key, str],
    reachable: Mapping[Key, str],
    usable: Callable[[str], str | None] | None = None,
) -> tuple[str | None, str | None, str | None]:
    """(channel, address, None), or (None, None, every channel's reason for skipping).

    `usable(channel)` says why a channel cannot carry this message (WhatsApp outside its
    reply window with no approved template), or None when it can."""
    reasons = []
    for channel in channel_order:
        status = consent.get((customer_id, channel))
        if channel not in senders:
            reasons.append(f"no connector sends {channel}")
        elif status == OPT_OUT:
            reasons.append(f"opted out of {channel}")
        elif status != OPT_IN:
            reasons.append(f"no consent for {channel}")
        elif (customer_id, channel) not in reachable:
            reasons.append(f"no reachable {channel} identity")
        elif usable is not None and (why := usable(channel)) is not None:
            reasons.append(why)
        else:
            return channel, reachable[(customer_id, channel)], None
    return None, None, "; ".join(reasons)
