"""Salesforce Contacts, as the CRM sync needs them.

Push: records the hub knows the id of are updated in sObject collections
(`PATCH /composite/sobjects`, up to 200); the others are looked up by email, then phone
(one SOQL query each per batch), and the rest upserted on the external id field
(`PATCH /composite/sobjects/Contact/<field>`, or for one record
`PATCH /sobjects/Contact/<field>/<id>`, whose 300 says several records hold that id).
A repeated push makes no second Contact. Pull: SOQL on SystemModstamp, oldest first,
following nextRecordsUrl.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

from connectors.salesforce.errors import RECORD_GONE, RequestRefused, record_error
from connectors.salesforce.session import SalesforceSession
from connectors.salesforce.settings import SalesforceConfig
from hub.connector import (
    CrmChange,
    CrmContact,
    CrmContext,
    CrmOutcome,
    CrmPage,
    ErasureAction,
)

CONTACT = {"type": "Contact"}


def soql_text(value: str) -> str:
    """A string literal for SOQL: backslash and quote escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class SalesforceCrm:
    batch_limit: ClassVar[int] = 200

    def __init__(self, config: SalesforceConfig, ctx: CrmContext) -> None:
        self.config = config
        self.session = SalesforceSession(config, ctx)

    async def close(self) -> None:
        await self.session.close()

    # ---- push ---------------------------------------------------------------------------

    async def push(self, changes: Sequence[CrmChange]) -> list[CrmOutcome]:
        outcomes: dict[int, CrmOutcome] = {}
        gone = await self._update([c for c in changes if c.remote_id], outcomes)
        rest = [replace(c, remote_id=None) for c in gone]
        rest += [c for c in changes if not c.remote_id]
        found = await self._lookup(rest)
        matched = [replace(c, remote_id=found[c.hub_id]) for c in rest if c.hub_id in found]
        create = [c for c in rest if c.hub_id not in found]
        create += [replace(c, remote_id=None) for c in await self._update(matched, outcomes)]
        await self._upsert(create, outcomes)
        return [
            outcomes.get(c.hub_id, CrmOutcome(c.hub_id, error="salesforce gave no result"))
            for c in changes
        ]

    def _fields(self, change: CrmChange, creating: bool = False) -> dict[str, Any]:
        c = self.config
        fields: dict[str, Any] = dict(change.properties)  # None clears a field
        if change.email:
            fields.setdefault(c.email_field, change.email)
        if creating and not fields.get("LastName"):
            fields["LastName"] = c.default_last_name
        return fields

    def _refused_all(
        self, changes: Sequence[CrmChange], exc: Exception, outcomes: dict[int, CrmOutcome]
    ) -> None:
        for c in changes:
            outcomes[c.hub_id] = CrmOutcome(c.hub_id, error=str(exc))

    async def _update(
        self, changes: list[CrmChange], outcomes: dict[int, CrmOutcome]
    ) -> list[CrmChange]:
        """Update by record id; returns the changes whose record is gone."""
        if not changes:
            return []
        records = [
            {
                "attributes": CONTACT,
                "id": c.remote_id,
                **self._fields(c),
                self.config.external_id_field: str(c.hub_id),
            }
            for c in changes
        ]
        body = {"allOrNone": False, "records": records}
        try:
            _, results = await self.session.call(
                "PATCH", f"{self.session.base}/composite/sobjects", body
            )
        except RequestRefused as exc:
            self._refused_all(changes, exc, outcomes)
            return []
        gone = []
        # Collection results come back in the order of the records.
        for change, result in zip(changes, results or [], strict=False):
            if result.get("success"):
                outcomes[change.hub_id] = CrmOutcome(change.hub_id, remote_id=change.remote_id)
                continue
            code, message = record_error(result)
            if code in RECORD_GONE:
                gone.append(change)
            else:
                outcomes[change.hub_id] = CrmOutcome(change.hub_id, error=message)
        return gone

    async def _lookup(self, changes: list[CrmChange]) -> dict[int, str]:
        """hub id -> the Contact found by its email, else by its phone."""
        found: dict[int, str] = {}
        c = self.config
        for field, key in ((c.email_field, "email"), (c.phone_field, "phone")):
            wanted: dict[str, int] = {}
            for ch in changes:
                value = getattr(ch, key)
                if value and ch.hub_id not in found:
                    wanted.setdefault(value.lower() if key == "email" else value, ch.hub_id)
            if not wanted:
                continue
            values = ", ".join(soql_text(v) for v in sorted(wanted))
            soql = f"SELECT Id, {field} FROM Contact WHERE {field} IN ({values})"
            for record in await self._query_all(soql):
                value = str(record.get(field) or "")
                hub_id = wanted.get(value.lower() if key == "email" else value)
                if hub_id is not None:
                    found.setdefault(hub_id, str(record["Id"]))
        return found

    async def _query_all(self, soql: str) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        page = await self._query(soql, None)
        records += page[0]
        while page[1] is not None:
            page = await self._query(soql, page[1])
            records += page[0]
        return records

    async def _query(self, soql: str, next_url: str | None) -> tuple[list[Any], str | None]:
        path = next_url or f"{self.session.base}/query?q={quote(soql)}"
        _, data = await self.session.call("GET", path)
        data = data or {}
        more = None if data.get("done", True) else data.get("nextRecordsUrl")
        return list(data.get("records", [])), more

    async def _upsert(self, changes: list[CrmChange], outcomes: dict[int, CrmOutcome]) -> None:
        if len(changes) == 1:
            await self._upsert_one(changes[0], outcomes)
            return
        if not changes:
            return
        ext = self.config.external_id_field
        records = [
            {"attributes": CONTACT, **self._fields(c, creating=True), ext: str(c.hub_id)}
            for c in changes
        ]
        path = f"{self.session.base}/composite/sobjects/Contact/{ext}"
        try:
            _, results = await self.session.call(
                "PATCH", path, {"allOrNone": False, "records": records}
            )
        except RequestRefused as exc:
            self._refused_all(changes, exc, outcomes)
            return
        for change, result in zip(changes, results or [], strict=False):
            if result.get("success"):
                outcomes[change.hub_id] = CrmOutcome(change.hub_id, remote_id=str(result["id"]))
            else:
                outcomes[change.hub_id] = CrmOutcome(change.hub_id, error=record_error(result)[1])

    async def _upsert_one(self, change: CrmChange, outcomes: dict[int, CrmOutcome]) -> None:
        ext = self.config.external_id_field
        path = f"{self.session.base}/sobjects/Contact/{ext}/{change.hub_id}"
        try:
            status, data = await self.session.call(
                "PATCH", path, self._fields(change, creating=True), ok=(300,)
            )
        except RequestRefused as exc:
            self._refused_all([change], exc, outcomes)
            return
        if status == 300:
            several = len(data) if isinstance(data, list) else "several"
            message = f"MULTIPLE_CHOICES: {ext} {change.hub_id} matches {several} Contacts"
            outcomes[change.hub_id] = CrmOutcome(change.hub_id, error=message)
        else:
            outcomes[change.hub_id] = CrmOutcome(change.hub_id, remote_id=str(data["id"]))

    # ---- pull and erase -----------------------------------------------------------------

    async def changed_since(self, since: datetime, page: str | None) -> CrmPage:
        c = self.config
        wanted = {f.crm for f in c.sync.fields}
        wanted |= {c.email_field, c.phone_field, c.external_id_field, "SystemModstamp"}
        wanted.discard("Id")
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        # An archived Contact is an erased customer: a pull must not bring it back.
        soql = (
            f"SELECT Id, {', '.join(sorted(wanted))} FROM Contact "
            f"WHERE SystemModstamp >= {stamp} AND {c.archive_field} = false "
            "ORDER BY SystemModstamp, Id"
        )
        records, next_url = await self._query(soql, page)
        return CrmPage([self._contact(r) for r in records], next_url)

    def _contact(self, record: dict[str, Any]) -> CrmContact:
        c = self.config
        props = {k: (None if v is None else str(v)) for k, v in record.items() if k != "attributes"}
        hub_id = props.get(c.external_id_field)
        return CrmContact(
            remote_id=str(record["Id"]),
            modified_at=datetime.fromisoformat(str(record["SystemModstamp"])),
            properties=props,
            hub_id=int(hub_id)
            if hub_id and hub_id.isascii() and hub_id.isdigit() and len(hub_id) <= 18
            else None,
            email=props.get(c.email_field),
            phone=props.get(c.phone_field),
        )

    async def remove(self, remote_id: str, action: ErasureAction) -> None:
        """delete: the Contact goes (to the org's recycle bin); archive: its archive field
        is set. A Contact already gone is fine."""
        path = f"{self.session.base}/sobjects/Contact/{remote_id}"
        if action == "delete":
            await self.session.call("DELETE", path, ok=(404,))
        else:
            await self.session.call("PATCH", path, {self.config.archive_field: True}, ok=(404,))
