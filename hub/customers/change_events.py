"""The outgoing events of customer records (hub.events.outgoing): created, updated,
merged. Ids and the names of what changed, never the values: receivers read the record
through the API, and an erasure has no copies of it to chase."""

from __future__ import annotations

from collections.abc import Iterable

from hub.events.outgoing import (
    CUSTOMER_CREATED,
    CUSTOMER_MERGED,
    CUSTOMER_UPDATED,
    OutgoingEvent,
)


def customer_created(customer_id: int, source: str) -> OutgoingEvent:
    return OutgoingEvent(
        CUSTOMER_CREATED, {"customer_id": customer_id, "source": source}, customer_id=customer_id
    )


def customer_updated(customer_id: int, fields: Iterable[str], source: str) -> OutgoingEvent:
    return OutgoingEvent(
        CUSTOMER_UPDATED,
        {"customer_id": customer_id, "fields": sorted(set(fields)), "source": source},
        customer_id=customer_id,
    )


def customer_merged(survivor_id: int, merged_id: int, merge_id: int) -> list[OutgoingEvent]:
    """One event for each: either customer's receivers learn where the records went."""
    data = {"customer_id": survivor_id, "merged_id": merged_id, "merge_id": merge_id}
    return [
        OutgoingEvent(CUSTOMER_MERGED, data, customer_id=survivor_id),
        OutgoingEvent(CUSTOMER_MERGED, data, customer_id=merged_id),
    ]
