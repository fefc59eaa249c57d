"""Pulling: records the CRM changed since the cursor, applied to the hub's customers.

The cursor is the newest modified time applied; each pull asks from the cursor less the
overlap, so records stamped late or sharing a timestamp are seen again, and applying a
record twice changes nothing (equal values are skipped; a change is labelled with this
sync's source, so it is not pushed back).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.core.identity import normalize_email, normalize_phone
from hub.crm.conflicts import FieldHistory, Policy, crm_value_wins
from hub.crm.fields import (
    IDENTITY_FIELDS,
    HubRecord,
    Unusable,
    column_values,
    crm_values,
    hub_value,
    parse_value,
)
from hub.crm.intake import pending_since
from hub.crm.links import MAX_REMOTE_ID, customer_of_remote, link, load_records
from hub.crm.parts import SyncParts
from hub.crm_seam import CrmContact
from hub.customers.field_edits import edits_of
from hub.customers.records import (
    CustomerCreate,
    CustomerDefaults,
    IdentityIn,
    RecordRefused,
    add_identity,
    insert_customer,
)
from hub.customers.views import CustomerPatch, update_customer
from hub.store import utcnow
from hub.store.schema import crm_cursors, customers, identities

log = logging.getLogger("hub.crm")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# One round reads at most this many pages (HubSpot's search stops at 10,000 results).
MAX_PAGES = 100


@dataclass
class PullReport:
    seen: int = 0
    changed: int = 0
    created: int = 0
    skipped: int = 0


async def pull_round(parts: SyncParts) -> PullReport:
    report = PullReport()
    async with parts.store.read() as conn:
        cursor = (
            await conn.execute(
                select(crm_cursors.c.pulled_until).where(
                    crm_cursors.c.connector_id == parts.connector_id
                )
            )
        ).scalar_one_or_none()
    since = (cursor or EPOCH) - timedelta(seconds=parts.settings.pull_overlap_seconds)
    since = max(since, EPOCH)
    page: str | None = None
    for _ in range(MAX_PAGES):
        result = await parts.client.changed_since(since, page)
        async with parts.store.write() as conn:
            for contact in result.contacts:
                await _apply_alone(parts, conn, contact, report)
                cursor = max(cursor or EPOCH, contact.modified_at)
            if cursor is not None:
                await _save_cursor(parts, conn, cursor)
        page = result.next_page
        if page is None:
            break
    return report


async def _apply_alone(
    parts: SyncParts, conn: AsyncConnection, contact: CrmContact, report: PullReport
) -> None:
    """One record in a savepoint: a record the database refuses (a value too long for a
    column, an identity taken meanwhile) is skipped and logged, not retried for ever with
    its whole page."""
    try:
        async with conn.begin_nested():
            await apply_contact(parts, conn, contact, report)
    except (IntegrityError, DataError) as exc:
        report.skipped += 1
        log.warning(
            "crm record skipped connector=%s record=%s error=%s",
            parts.connector_id,
            contact.remote_id,
            exc.__class__.__name__,
        )


async def _save_cursor(parts: SyncParts, conn: AsyncConnection, cursor: datetime) -> None:
    now = utcnow()
    await conn.execute(
        parts.store.insert(crm_cursors)
        .values(connector_id=parts.connector_id, event_floor=0, pulled_until=cursor, updated_at=now)
        .on_conflict_do_update(
            index_elements=["connector_id"], set_={"pulled_until": cursor, "updated_at": now}
        )
    )


async def _find_customer(parts: SyncParts, conn: AsyncConnection, c: CrmContact) -> int | None:
    """By the stored record id, then the hub id the CRM keeps, then email, then phone."""
    if (found := await customer_of_remote(conn, parts.kind, c.remote_id)) is not None:
        return found
    if c.hub_id is not None:
        row = (
            await conn.execute(
                select(customers.c.id, customers.c.merged_into).where(customers.c.id == c.hub_id)
            )
        ).first()
        if row is not None:
            return int(row.merged_into or row.id)
    for kind, value in _addresses(parts, c):
        found = (
            await conn.execute(
                select(identities.c.customer_id).where(
                    identities.c.kind == kind, identities.c.value == value
                )
            )
        ).scalar_one_or_none()
        if found is not None:
            return int(found)
    return None


def _addresses(parts: SyncParts, c: CrmContact) -> list[tuple[str, str]]:
    out = []
    if c.email and (email := normalize_email(c.email)):
        out.append(("email", email))
    if c.phone and (phone := normalize_phone(c.phone, parts.region)):
        out.append(("phone", phone))
    return out


async def apply_contact(
    parts: SyncParts, conn: AsyncConnection, contact: CrmContact, report: PullReport
) -> None:
    report.seen += 1
    if not 0 < len(contact.remote_id) <= MAX_REMOTE_ID:
        log.warning(
            "crm record skipped connector=%s: id of %d characters",
            parts.connector_id,
            len(contact.remote_id),
        )
        return
    customer_id = await _find_customer(parts, conn, contact)
    fresh = customer_id is None
    if customer_id is None:
        customer_id = await _create(parts, conn, contact)
        if customer_id is None:
            return
        report.created += 1
    record = (await load_records(conn, [customer_id])).get(customer_id)
    if record is None:
        return
    # A customer made from this record takes all of it; others by the conflict policy.
    changes = await _accepted_changes(parts, conn, record, contact, everything=fresh)
    if changes:
        report.changed += 0 if fresh else 1
        await _write(parts, conn, record, changes)
    key = (parts.connector_id, parts.kind)
    await link(parts.store, conn, key, [(customer_id, contact.remote_id)])


async def _create(parts: SyncParts, conn: AsyncConnection, contact: CrmContact) -> int | None:
    addrs = _addresses(parts, contact)
    if not parts.settings.create_customers or not addrs:
        return None
    body = CustomerCreate(identities=[IdentityIn(kind=k, value=v) for k, v in addrs])
    try:
        defaults = CustomerDefaults(
            list(parts.locales), parts.locales[0], parts.timezone, parts.region
        )
        return await insert_customer(conn, body, defaults, source=parts.source)
    except (ValueError, RecordRefused) as exc:
        log.warning(
            "crm pull skipped connector=%s record=%s error=%s",
            parts.connector_id,
            contact.remote_id,
            exc,
        )
        return None


async def _accepted_changes(
    parts: SyncParts,
    conn: AsyncConnection,
    record: HubRecord,
    contact: CrmContact,
    *,
    everything: bool = False,
) -> dict[str, Any]:
    edits = (await edits_of(conn, [record.id])).get(record.id, {})
    unpushed = (await pending_since(conn, parts.connector_id, [record.id])).get(record.id)
    created_at = record.columns["created_at"]
    policy = Policy(parts.settings.conflict, parts.settings.overwrite_agent_edits)
    out: dict[str, Any] = {}
    for field, text in crm_values(contact.properties, parts.settings.fields).items():
        if _same(parts, field, hub_value(record, field), text):
            continue
        source, edited_at = edits.get(field, (None, created_at))
        history = FieldHistory(source, edited_at, unpushed)
        if not everything and not crm_value_wins(policy, history, contact.modified_at):
            continue
        try:
            out[field] = parse_value(field, text)
        except Unusable as exc:
            log.warning("crm value skipped connector=%s error=%s", parts.connector_id, exc)
    return out


def _same(parts: SyncParts, field: str, hub: str | None, crm: str | None) -> bool:
    if field == "email" and crm:
        crm = normalize_email(crm) or crm
    elif field == "phone" and crm:
        crm = normalize_phone(crm, parts.region) or crm
    return hub == crm or (field in IDENTITY_FIELDS and not crm)


async def _write(
    parts: SyncParts, conn: AsyncConnection, record: HubRecord, changes: dict[str, Any]
) -> None:
    values: dict[str, Any] = {}
    for key, value in column_values(changes, record.columns.get("address") or {}).items():
        try:
            patch = CustomerPatch.model_validate({key: value})
            values.update(patch.values(list(parts.locales)))
        except (ValidationError, ValueError) as exc:
            log.warning(
                "crm value skipped connector=%s field=%s error=%s", parts.connector_id, key, exc
            )
    await update_customer(conn, record.id, values, source=parts.source)
    tags_changed = parts.effects.tags_changed
    if "tags" in values and tags_changed is not None:
        before = sorted(record.columns.get("tags") or [])
        await tags_changed(conn, record.id, (before, sorted(values["tags"])))
    for field in IDENTITY_FIELDS:
        if changes.get(field):
            try:
                ident = IdentityIn(kind=field, value=changes[field])
                await add_identity(conn, record.id, ident, parts.region, parts.source)
            except (ValueError, RecordRefused):
                continue  # someone else's address, or not one: the hub keeps its own
