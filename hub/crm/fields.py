"""Field mapping between a customer and a CRM record: pure functions on data.

CRM properties travel as strings (or None to clear): dates as YYYY-MM-DD, tags joined by
"; ". A CRM value the hub cannot take (a bad date, a locale the hub does not serve) is left
out of the update, never half-applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from hub.crm_seam import CrmField

TO_CRM = ("hub->crm", "both")
FROM_CRM = ("crm->hub", "both")
IDENTITY_FIELDS = ("email", "phone")
TAG_SEPARATOR = "; "


@dataclass(frozen=True)
class HubRecord:
    """One customer as the mapping reads it: its columns and newest email / phone."""

    id: int
    columns: Mapping[str, Any]
    email: str | None
    phone: str | None


def hub_value(record: HubRecord, field: str) -> str | None:
    """The hub's value of a mapped field, formatted as the CRM gets it."""
    if field == "email":
        return record.email
    if field == "phone":
        return record.phone
    if field.startswith("address."):
        raw = (record.columns.get("address") or {}).get(field.removeprefix("address."))
    else:
        raw = record.columns.get(field)
    return _format(raw)


def _format(raw: Any) -> str | None:
    if raw is None or raw == "" or raw == []:
        return None
    if isinstance(raw, date):
        return raw.isoformat()
    if isinstance(raw, list):
        return TAG_SEPARATOR.join(sorted(str(t) for t in raw))
    return str(raw)


def to_properties(record: HubRecord, fields: Sequence[CrmField]) -> dict[str, str | None]:
    return {f.crm: hub_value(record, f.hub) for f in fields if f.direction in TO_CRM}


class Unusable(ValueError):
    """A CRM value the hub cannot store in this field."""


def parse_value(field: str, raw: str | None) -> Any:
    """A CRM string -> the hub's value for the field (raises Unusable)."""
    text = None if raw is None else str(raw).strip()
    if not text:
        return [] if field == "tags" else None
    if field in ("birthday", "anniversary"):
        try:
            # HubSpot may send a date property as a datetime at midnight UTC.
            return date.fromisoformat(text[:10])
        except ValueError:
            raise Unusable(f"{field}: {text!r} is not a date") from None
    if field == "tags":
        return sorted({t.strip() for t in text.replace(",", ";").split(";") if t.strip()})
    return text


def crm_values(
    properties: Mapping[str, str | None], fields: Sequence[CrmField]
) -> dict[str, str | None]:
    """hub field -> the CRM's formatted value, for the fields the CRM may set."""
    return {
        f.hub: _format(parse_or_raw(f.hub, properties.get(f.crm)))
        for f in fields
        if f.direction in FROM_CRM and f.crm in properties
    }


def parse_or_raw(field: str, raw: str | None) -> Any:
    try:
        return parse_value(field, raw)
    except Unusable:
        return raw


def column_values(changes: Mapping[str, Any], current_address: Mapping[str, Any]) -> dict[str, Any]:
    """hub field -> value, to the customer's column values (address merged whole)."""
    out: dict[str, Any] = {}
    address = dict(current_address)
    touched_address = False
    for field, value in changes.items():
        if field in IDENTITY_FIELDS:
            continue
        if field.startswith("address."):
            key = field.removeprefix("address.")
            touched_address = True
            if value is None:
                address.pop(key, None)
            else:
                address[key] = value
        else:
            out[field] = value
    if touched_address:
        out["address"] = address
    return out
