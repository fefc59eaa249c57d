"""A loopback fake of HubSpot's CRM v3 contacts API, written from its documentation
(developers.hubspot.com, "Contacts" and "Search" under CRM API v3):

- `POST /crm/v3/objects/contacts/batch/update` `{"inputs": [{"id", "properties"}]}`;
  `POST .../batch/upsert` `{"inputs": [{"idProperty", "id", "properties"}]}` on a unique
  property (email, or a custom unique one). Both answer `{"status": "COMPLETE",
  "results": [{"id", "properties", "createdAt", "updatedAt", "archived"}]}` with 200, or
  207 with `"errors": [{"status": "error", "category", "message", "context": {"ids": [...]}}]`
  and `numErrors` when some inputs failed.
- `POST .../search` with `filterGroups` (EQ, GTE), `sorts`, `properties`, `limit`, `after`;
  answers `{"total", "results", "paging": {"next": {"after"}}}`. `lastmodifieddate` is the
  record's modified time.
- `DELETE /crm/v3/objects/contacts/{id}` (archive, 204) and `POST .../gdpr-delete`
  `{"objectId"}` (204).
- A private app's bearer token; anything else is 401 `INVALID_AUTHENTICATION`.
- Rate limit: `max_requests` per `window_seconds`, reported in `X-HubSpot-RateLimit-Max`,
  `-Remaining` and `-Interval-Milliseconds`; over it, 429 with `policyName`
  TEN_SECONDLY_ROLLING (counted in `over_limit`, which a well-behaved client keeps at 0).

Faults for tests: `faults` (answers given before the next requests, in order), `down`
(every request 503), `invalid_emails` (those inputs fail in a 207).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

CONTACTS = "/crm/v3/objects/contacts"
BODY = web.RequestKey("body", Any)


@dataclass
class Fault:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Contact:
    id: str
    properties: dict[str, str]
    created: datetime
    updated: datetime
    archived: bool = False


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeHubSpot:
    def __init__(
        self,
        token: str,
        max_requests: int = 100,
        window_seconds: float = 10.0,
        unique: tuple[str, ...] = ("email", "hub_customer_id"),
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.token = token
        self.max_requests = max_requests
        self.window_seconds = window_seconds
        self.unique = unique
        self.now = now or (lambda: datetime.now(UTC))
        self.contacts: dict[str, Contact] = {}
        self.faults: deque[Fault] = deque()
        self.down = False
        self.invalid_emails: set[str] = set()
        self.over_limit = 0
        self.requests: list[tuple[str, str, Any]] = []
        self._ids = itertools.count(1001)
        # unique property -> lower-cased value -> contact id
        self._index: dict[str, dict[str, str]] = {p: {} for p in unique}
        self._window: deque[float] = deque()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- control from tests ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, properties: dict[str, str], at: datetime | None = None) -> Contact:
        when = at or self.now()
        c = Contact(str(next(self._ids)), dict(properties), when, when)
        c.properties["lastmodifieddate"] = _iso(when)
        self.contacts[c.id] = c
        self._reindex(c, {})
        return c

    def edit(self, contact_id: str, properties: dict[str, str], at: datetime | None = None) -> None:
        """A change made in HubSpot itself (by a sales rep, a workflow)."""
        c = self.contacts[contact_id]
        old = dict(c.properties)
        c.properties.update(properties)
        self._reindex(c, old)
        c.updated = at or self.now()
        c.properties["lastmodifieddate"] = _iso(c.updated)

    def by(self, prop: str, value: str) -> Contact | None:
        if prop in self.unique:
            found = self.contacts.get(self._index[prop].get(value.lower(), ""))
            return found if found is not None and not found.archived else None
        for c in self.contacts.values():
            if not c.archived and c.properties.get(prop, "").lower() == value.lower():
                return c
        return None

    def _reindex(self, c: Contact, old: dict[str, str]) -> None:
        for prop in self.unique:
            if old.get(prop):
                self._index[prop].pop(old[prop].lower(), None)
            if c.properties.get(prop) and not c.archived:
                self._index[prop][c.properties[prop].lower()] = c.id

    def live(self) -> list[Contact]:
        return [c for c in self.contacts.values() if not c.archived]

    async def start(self) -> FakeHubSpot:
        app = web.Application()
        app.router.add_post(CONTACTS + "/batch/update", self._batch_update)
        app.router.add_post(CONTACTS + "/batch/upsert", self._batch_upsert)
        app.router.add_post(CONTACTS + "/search", self._search)
        app.router.add_post(CONTACTS + "/gdpr-delete", self._gdpr_delete)
        app.router.add_delete(CONTACTS + "/{id}", self._archive)
        app.middlewares.append(self._gate)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- the gate: auth, faults, the rate limit -------------------------------------------

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, request.path, body))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response(
                {
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "category": "INVALID_AUTHENTICATION",
                },
                status=401,
            )
        if self.faults:
            f = self.faults.popleft()
            return web.json_response(f.body, status=f.status, headers=f.headers)
        if self.down:
            return web.json_response({"status": "error", "message": "down"}, status=503)
        clock = time.monotonic()
        while self._window and self._window[0] <= clock - self.window_seconds:
            self._window.popleft()
        if len(self._window) >= self.max_requests:
            self.over_limit += 1
            return web.json_response(
                {
                    "status": "error",
                    "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT",
                    "policyName": "TEN_SECONDLY_ROLLING",
                },
                status=429,
                headers=self._limit_headers(),
            )
        self._window.append(clock)
        request[BODY] = body
        response = await handler(request)
        response.headers.update(self._limit_headers())
        return response  # type: ignore[no-any-return]

    def _limit_headers(self) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Max": str(self.max_requests),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.max_requests - len(self._window))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window_seconds * 1000)),
        }

    # -- the API --------------------------------------------------------------------------

    def _json(self, c: Contact) -> dict[str, Any]:
        return {
            "id": c.id,
            "properties": {**c.properties, "hs_object_id": c.id},
            "createdAt": _iso(c.created),
            "updatedAt": _iso(c.updated),
            "archived": c.archived,
        }

    def _write(self, c: Contact, props: dict[str, Any]) -> str | None:
        """Apply properties; why not, if a unique value belongs to another contact."""
        for key in self.unique:
            value = props.get(key)
            other = self.by(key, str(value)) if value else None
            if other is not None and other.id != c.id:
                return f"Contact already exists. Existing ID: {other.id}"
        if str(props.get("email", "")).lower() in self.invalid_emails:
            return f"Property values were not valid: email {props['email']!r}"
        old = dict(c.properties)
        for k, v in props.items():
            if v == "":
                c.properties.pop(k, None)
            else:
                c.properties[k] = str(v)
        c.updated = self.now()
        c.properties["lastmodifieddate"] = _iso(c.updated)
        if c.id in self.contacts:
            self._reindex(c, old)
        return None

    def _answer(self, results: list[Contact], errors: list[dict[str, Any]]) -> web.Response:
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": [self._json(c) for c in results],
            "startedAt": _iso(self.now()),
            "completedAt": _iso(self.now()),
        }
        if errors:
            body["errors"] = errors
            body["numErrors"] = len(errors)
        return web.json_response(body, status=207 if errors else 200)

    @staticmethod
    def _error(category: str, message: str, ident: str) -> dict[str, Any]:
        return {
            "status": "error",
            "category": category,
            "message": message,
            "context": {"ids": [ident]},
        }

    async def _batch_update(self, request: web.Request) -> web.Response:
        inputs = request[BODY]["inputs"]
        if len(inputs) > 100:
            return web.json_response({"status": "error", "message": "too many"}, status=400)
        results, errors = [], []
        for item in inputs:
            c = self.contacts.get(str(item["id"]))
            if c is None or c.archived:
                errors.append(self._error("OBJECT_NOT_FOUND", "Object not found", str(item["id"])))
            elif (why := self._write(c, item.get("properties", {}))) is not None:
                errors.append(self._error("VALIDATION_ERROR", why, str(item["id"])))
            else:
                results.append(c)
        return self._answer(results, errors)

    async def _batch_upsert(self, request: web.Request) -> web.Response:
        inputs = request[BODY]["inputs"]
        if len(inputs) > 100:
            return web.json_response({"status": "error", "message": "too many"}, status=400)
        results, errors = [], []
        for item in inputs:
            prop, ident = item["idProperty"], str(item["id"])
            if prop not in self.unique:
                return web.json_response(
                    {"status": "error", "message": f"{prop} is not a unique property"}, status=400
                )
            c = self.by(prop, ident)
            fresh = c is None
            if c is None:
                c = Contact(str(next(self._ids)), {}, self.now(), self.now())
            why = self._write(c, {**item.get("properties", {}), prop: ident})
            if why is not None:
                errors.append(self._error("VALIDATION_ERROR", why, ident))
                continue
            if fresh:
                self.contacts[c.id] = c
                self._reindex(c, {})
            results.append(c)
        return self._answer(results, errors)

    async def _search(self, request: web.Request) -> web.Response:
        body = request[BODY]
        found = self.live()
        for group in body.get("filterGroups", []):
            for f in group["filters"]:
                found = [c for c in found if self._matches(c, f)]
        for s in reversed(body.get("sorts", [])):
            found.sort(
                key=lambda c: (self._sort_value(c, s["propertyName"]), int(c.id)),
                reverse=s.get("direction") == "DESCENDING",
            )
        start = int(body.get("after") or 0)
        limit = min(int(body.get("limit", 10)), 200)
        page = found[start : start + limit]
        wanted = body.get("properties")
        out = []
        for c in page:
            j = self._json(c)
            if wanted:
                j["properties"] = {k: v for k, v in j["properties"].items() if k in wanted}
            out.append(j)
        answer: dict[str, Any] = {"total": len(found), "results": out}
        if start + limit < len(found):
            answer["paging"] = {"next": {"after": str(start + limit)}}
        return web.json_response(answer)

    def _sort_value(self, c: Contact, prop: str) -> Any:
        return c.updated if prop == "lastmodifieddate" else c.properties.get(prop, "")

    def _matches(self, c: Contact, f: dict[str, Any]) -> bool:
        prop, op, value = f["propertyName"], f["operator"], f.get("value")
        if prop == "lastmodifieddate" and op == "GTE":
            return c.updated.timestamp() * 1000 >= int(value)
        if op == "EQ":
            return c.properties.get(prop) == value
        raise web.HTTPBadRequest(text=f"fake: unsupported filter {op} on {prop}")

    async def _archive(self, request: web.Request) -> web.Response:
        c = self.contacts.get(request.match_info["id"])
        if c is not None:
            c.archived = True
            self._reindex(c, dict(c.properties))
        return web.Response(status=204)

    async def _gdpr_delete(self, request: web.Request) -> web.Response:
        c = self.contacts.pop(str(request[BODY]["objectId"]), None)
        if c is not None:
            c.archived = True
            self._reindex(c, dict(c.properties))
        return web.Response(status=204)
