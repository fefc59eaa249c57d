"""HubSpot's CRM v3 contacts API, as the CRM sync needs it.

Push: records the hub knows the id of go to `POST /crm/v3/objects/contacts/batch/update`;
the others are looked up by email (`batch/upsert` with idProperty=email finds or creates in
one call), then by phone (`search`), and the rest are created by `batch/upsert` on the
hub-id property, so a repeated push never makes a second contact. Pull: `search` on
`lastmodifieddate` (GTE, ascending, 100 a page). Rate limits: the X-HubSpot-RateLimit-*
headers pace the next request; a 429 is waited out (or ends the round, by policy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar

import aiohttp

from connectors.hubspot.errors import BatchRefused, rate_limited, refusal, unreachable
from connectors.hubspot.settings import HubSpotConfig
from hub.connector import (
    CrmChange,
    CrmContact,
    CrmContext,
    CrmOutcome,
    CrmPage,
    CrmRateLimited,
    CrmUnavailable,
    ErasureAction,
    read_json,
)

CONTACTS = "/crm/v3/objects/contacts"
PAGE_SIZE = 100
# A request is tried this often while HubSpot answers 429 with a short wait.
MAX_TRIES = 4
NOT_FOUND = "OBJECT_NOT_FOUND"
# A page of 100 contacts is far below this; an answer past it is not read.
MAX_ANSWER_BYTES = 16 * 1024 * 1024


def read_answer(raw: bytes) -> Any:
    """An answer's JSON through the hub's guarded reader (None when empty)."""
    if len(raw) > MAX_ANSWER_BYTES:
        raise CrmUnavailable(f"hubspot: an answer over {MAX_ANSWER_BYTES} bytes")
    return read_json(raw) if raw.strip() else None


class HubSpotCrm:
    batch_limit: ClassVar[int] = 100

    def __init__(self, config: HubSpotConfig, ctx: CrmContext) -> None:
        self.config = config
        self.ctx = ctx
        self._session: aiohttp.ClientSession | None = None
        # monotonic time before which no request goes out (a spent rate window, a 429).
        self._quiet_until = 0.0

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
                headers={"Authorization": f"Bearer {self.config.token.get_secret_value()}"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        for _ in range(MAX_TRIES):
            wait = self._quiet_until - self.ctx.monotonic()
            if wait > 0:
                await self.ctx.sleep(wait)
            try:
                async with self._http().request(
                    method, self.config.base_url + path, json=body
                ) as resp:
                    status, headers = resp.status, resp.headers
                    data = read_answer(await resp.content.read(MAX_ANSWER_BYTES + 1))
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                raise unreachable(exc) from None
            self._note_window(headers)
            if status == 429:
                limited = rate_limited(data, headers.get("Retry-After"))
                if limited.seconds > self.config.max_wait_seconds:
                    raise limited
                self._quiet_until = max(self._quiet_until, self.ctx.monotonic() + limited.seconds)
                continue
            if status >= 400 and status != 404:
                raise refusal(status, data)
            return status, data
        raise CrmRateLimited(self.config.max_wait_seconds, "hubspot kept answering 429")

    def _note_window(self, headers: Any) -> None:
        """When the window's requests are spent, wait for the window before the next one."""
        remaining = headers.get("X-HubSpot-RateLimit-Remaining")
        interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        try:
            if remaining is not None and interval is not None and int(remaining) <= 0:
                until = self.ctx.monotonic() + int(interval) / 1000
                self._quiet_until = max(self._quiet_until, until)
        except ValueError:
            return

    # ---- push ---------------------------------------------------------------------------

    async def push(self, changes: Sequence[CrmChange]) -> list[CrmOutcome]:
        outcomes: dict[int, CrmOutcome] = {}
        gone = await self._update(
            [c for c in changes if c.remote_id], outcomes
        )  # records deleted in HubSpot are looked up again below
        rest = [replace(c, remote_id=None) for c in gone]
        rest += [c for c in changes if not c.remote_id]
        by_phone: list[CrmChange] = []
        create: list[CrmChange] = []
        for c in (c for c in rest if not c.email):
            found = await self._find_by_phone(c.phone) if c.phone else None
            (by_phone if found else create).append(replace(c, remote_id=found))
        create += [replace(c, remote_id=None) for c in await self._update(by_phone, outcomes)]
        await self._upsert([c for c in rest if c.email], "email", lambda c: c.email, outcomes)
        hub_key = self.config.hub_id_property
        await self._upsert(create, hub_key, lambda c: str(c.hub_id), outcomes)
        return [
            outcomes.get(c.hub_id, CrmOutcome(c.hub_id, error="hubspot gave no result"))
            for c in changes
        ]

    def _properties(self, change: CrmChange) -> dict[str, str]:
        # HubSpot clears a property given as an empty string.
        props = {k: ("" if v is None else v) for k, v in change.properties.items()}
        props[self.config.hub_id_property] = str(change.hub_id)
        if change.email:
            props.setdefault(self.config.email_property, change.email)
        return props

    async def _update(
        self, changes: list[CrmChange], outcomes: dict[int, CrmOutcome]
    ) -> list[CrmChange]:
        """Update by record id; returns the changes whose record HubSpot no longer has."""
        if not changes:
            return []
        by_key = {str(c.remote_id): c for c in changes}
        inputs = [{"id": c.remote_id, "properties": self._properties(c)} for c in changes]
        errors = await self._batch("update", inputs, by_key, outcomes, lambda r: str(r["id"]))
        return [by_key[k] for k, category in errors.items() if category == NOT_FOUND]

    async def _upsert(
        self,
        changes: list[CrmChange],
        id_property: str,
        key: Callable[[CrmChange], str | None],
        outcomes: dict[int, CrmOutcome],
    ) -> None:
        if not changes:
            return
        by_key = {str(key(c)).lower(): c for c in changes}
        inputs = [
            {"idProperty": id_property, "id": key(c), "properties": self._properties(c)}
            for c in changes
        ]

        def result_key(r: dict[str, Any]) -> str:
            return str((r.get("properties") or {}).get(id_property, "")).lower()

        await self._batch("upsert", inputs, by_key, outcomes, result_key)

    async def _batch(
        self,
        verb: str,
        inputs: list[dict[str, Any]],
        by_key: dict[str, CrmChange],
        outcomes: dict[int, CrmOutcome],
        result_key: Callable[[dict[str, Any]], str],
    ) -> dict[str, str]:
        """One batch call; records each result or error as an outcome. Returns the keys
        that failed, with HubSpot's error category (OBJECT_NOT_FOUND, VALIDATION_ERROR)."""
        try:
            _, data = await self._call("POST", f"{CONTACTS}/batch/{verb}", {"inputs": inputs})
        except BatchRefused as exc:
            for c in by_key.values():
                outcomes[c.hub_id] = CrmOutcome(c.hub_id, error=str(exc))
            return {}
        for result in (data or {}).get("results", []):
            change = by_key.get(result_key(result))
            if change is not None:
                outcomes[change.hub_id] = CrmOutcome(change.hub_id, remote_id=str(result["id"]))
        failed: dict[str, str] = {}
        for error in (data or {}).get("errors", []):
            category = str(error.get("category", "ERROR"))
            for bad in (error.get("context") or {}).get("ids", []):
                change = by_key.get(str(bad).lower())
                if change is not None:
                    failed[str(bad).lower()] = category
                    message = f"{category}: {str(error.get('message', ''))[:300]}"
                    outcomes[change.hub_id] = CrmOutcome(change.hub_id, error=message)
        return failed

    async def _find_by_phone(self, phone: str) -> str | None:
        prop = self.config.phone_property
        body = {
            "filterGroups": [
                {"filters": [{"propertyName": prop, "operator": "EQ", "value": phone}]}
            ],
            "properties": [prop],
            "limit": 1,
        }
        _, data = await self._call("POST", f"{CONTACTS}/search", body)
        results = (data or {}).get("results") or []
        return str(results[0]["id"]) if results else None

    # ---- pull and erase -----------------------------------------------------------------

    async def changed_since(self, since: datetime, page: str | None) -> CrmPage:
        c = self.config
        wanted = [f.crm for f in c.sync.fields]
        wanted += [c.email_property, c.phone_property, c.hub_id_property, "lastmodifieddate"]
        body: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "lastmodifieddate",
                            "operator": "GTE",
                            "value": str(int(since.timestamp() * 1000)),
                        }
                    ]
                }
            ],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": sorted(set(wanted)),
            "limit": PAGE_SIZE,
        }
        if page is not None:
            body["after"] = page
        _, data = await self._call("POST", f"{CONTACTS}/search", body)
        data = data or {}
        contacts = [self._contact(r) for r in data.get("results", [])]
        after = ((data.get("paging") or {}).get("next") or {}).get("after")
        return CrmPage(contacts, str(after) if after is not None else None)

    def _contact(self, record: dict[str, Any]) -> CrmContact:
        c = self.config
        props = {k: (None if v is None else str(v)) for k, v in record["properties"].items()}
        stamp = props.get("lastmodifieddate") or record.get("updatedAt") or ""
        hub_id = props.get(c.hub_id_property)
        return CrmContact(
            remote_id=str(record["id"]),
            modified_at=datetime.fromisoformat(stamp.replace("Z", "+00:00")),
            properties=props,
            hub_id=int(hub_id)
            if hub_id and hub_id.isascii() and hub_id.isdigit() and len(hub_id) <= 18
            else None,
            email=props.get(c.email_property),
            phone=props.get(c.phone_property),
        )

    async def remove(self, remote_id: str, action: ErasureAction) -> None:
        """archive: HubSpot's archive (the recycle bin); delete: its GDPR delete, which
        also blocks the email from coming back. A record already gone is fine."""
        if action == "archive":
            await self._call("DELETE", f"{CONTACTS}/{remote_id}")
        else:
            await self._call("POST", f"{CONTACTS}/gdpr-delete", {"objectId": remote_id})
