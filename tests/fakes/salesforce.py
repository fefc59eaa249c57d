"""A loopback fake of Salesforce's REST API for Contacts, written from its documentation
(developer.salesforce.com, REST API Developer Guide):

- OAuth 2.0 refresh-token flow: `POST /services/oauth2/token` (form: grant_type,
  client_id, client_secret, refresh_token) answers `{"access_token", "instance_url",
  "token_type": "Bearer"}`; a wrong one 400 `{"error": "invalid_grant"}`. An expired or
  unknown access token gets 401 `[{"errorCode": "INVALID_SESSION_ID"}]`.
- `PATCH /services/data/vXX.X/composite/sobjects` (update up to 200 by `id`) and
  `PATCH .../composite/sobjects/Contact/<ExternalIdField>` (upsert up to 200 by external
  id): 200 with a list of `{"id", "success", "errors": [{"statusCode", "message",
  "fields"}], "created"}` in the order of the records.
- `PATCH .../sobjects/Contact/<ExternalIdField>/<value>`: 201 `{"id", "success": true,
  "created": true}`, 200 with `created: false`, or 300 with the URLs of every Contact the
  value matches. `PATCH`/`DELETE .../sobjects/Contact/<id>`: 204, or 404 NOT_FOUND.
- `GET .../query?q=<SOQL>` for the shapes the hub sends (`WHERE SystemModstamp >= <datetime>
  ORDER BY SystemModstamp, Id`, `WHERE <Field> IN ('a', 'b')`): `{"totalSize", "done",
  "records": [{"attributes", "Id", ...}], "nextRecordsUrl"}`, and the next pages.
- Every answer carries `Sforce-Limit-Info: api-usage=<used>/<max>`; past the daily max,
  403 `[{"errorCode": "REQUEST_LIMIT_EXCEEDED"}]`. Contacts need LastName
  (REQUIRED_FIELD_MISSING).

Faults for tests: `faults` (answers given before the next requests, in order), `down`
(every API request 503), `expire_tokens()`.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

SOQL = re.compile(
    r"^SELECT (?P<fields>.+?) FROM Contact WHERE (?P<where>.+?)"
    r"(?: ORDER BY SystemModstamp, Id)?$"
)
SINCE = re.compile(r"^SystemModstamp >= (\S+)(?: AND (\w+) = false)?$")
IN = re.compile(r"^(\w+) IN \((.*)\)$")
LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")


@dataclass
class Fault:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Contact:
    id: str
    fields: dict[str, Any]
    modstamp: datetime


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


def _errors(code: str, message: str) -> list[dict[str, Any]]:
    return [{"errorCode": code, "message": message}]


class FakeSalesforce:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        external_id: str = "Hub_Customer_Id__c",
        version: str = "v60.0",
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = (client_id, client_secret, refresh_token)
        self.external_id = external_id
        self.version = version
        self.now = now or (lambda: datetime.now(UTC))
        self.contacts: dict[str, Contact] = {}
        self.tokens: set[str] = set()
        self.api_max = 1_000_000
        self.api_used = 0
        self.page_size = 2000
        self.faults: deque[Fault] = deque()
        self.down = False
        self.requests: list[tuple[str, str, Any]] = []
        self.token_requests = 0
        self._ids = itertools.count(1)
        self._tokens = itertools.count(1)
        self._cursors: dict[str, list[Contact]] = {}
        self._names: list[str] = []
        # external id value (lower-cased) -> contact ids holding it
        self._ext: dict[str, set[str]] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- control from tests ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, fields: dict[str, Any], at: datetime | None = None) -> Contact:
        c = Contact(f"003{next(self._ids):015d}", {}, at or self.now())
        self._set(c, dict(fields))
        self.contacts[c.id] = c
        return c

    def _set(self, c: Contact, fields: dict[str, Any]) -> None:
        old = c.fields.get(self.external_id)
        if old is not None:
            self._ext.get(str(old).lower(), set()).discard(c.id)
        c.fields = fields
        new = fields.get(self.external_id)
        if new is not None:
            self._ext.setdefault(str(new).lower(), set()).add(c.id)

    def edit(self, contact_id: str, fields: dict[str, Any], at: datetime | None = None) -> None:
        """A change made in Salesforce itself."""
        c = self.contacts[contact_id]
        self._set(c, {**c.fields, **fields})
        c.modstamp = at or self.now()

    def by(self, name: str, value: Any) -> list[Contact]:
        if name == self.external_id:
            ids = self._ext.get(str(value).lower(), set())
            return [self.contacts[i] for i in sorted(ids) if i in self.contacts]
        return [
            c
            for c in self.contacts.values()
            if str(c.fields.get(name, "")).lower() == str(value).lower()
        ]

    def expire_tokens(self) -> None:
        self.tokens.clear()

    async def start(self) -> FakeSalesforce:
        app = web.Application(middlewares=[self._gate])
        base = f"/services/data/{self.version}"
        app.router.add_post("/services/oauth2/token", self._token)
        app.router.add_patch(base + "/composite/sobjects", self._update_many)
        app.router.add_patch(base + "/composite/sobjects/Contact/{field}", self._upsert_many)
        app.router.add_patch(base + "/sobjects/Contact/{field}/{value}", self._upsert_one)
        app.router.add_patch(base + "/sobjects/Contact/{id}", self._update_one)
        app.router.add_delete(base + "/sobjects/Contact/{id}", self._delete)
        app.router.add_get(base + "/query", self._query)
        app.router.add_get(base + "/query/{cursor}", self._more)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- the gate: auth, faults, the daily limit ------------------------------------------

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/services/oauth2/token":
            return await handler(request)  # type: ignore[no-any-return]
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, request.path_qs, body))
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer not in self.tokens:
            return web.json_response(
                _errors("INVALID_SESSION_ID", "Session expired or invalid"), status=401
            )
        if self.faults:
            f = self.faults.popleft()
            return web.json_response(f.body, status=f.status, headers=f.headers)
        if self.down:
            return web.json_response(_errors("SERVER_UNAVAILABLE", "down"), status=503)
        if self.api_used >= self.api_max:
            return web.json_response(
                _errors("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
                status=403,
                headers=self._usage(),
            )
        self.api_used += 1
        request[BODY] = body
        response = await handler(request)
        response.headers.update(self._usage())
        return response  # type: ignore[no-any-return]

    def _usage(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_max}"}

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        given = (form.get("client_id"), form.get("client_secret"), form.get("refresh_token"))
        if form.get("grant_type") != "refresh_token" or given != self.client:
            return web.json_response(
                {"error": "invalid_grant", "error_description": "expired access/refresh token"},
                status=400,
            )
        token = f"00D!fake-access-{next(self._tokens)}"
        self.tokens.add(token)
        return web.json_response(
            {"access_token": token, "instance_url": self.url, "token_type": "Bearer"}
        )

    # -- writes ---------------------------------------------------------------------------

    def _apply(self, c: Contact, fields: dict[str, Any], creating: bool) -> dict[str, Any]:
        """A SaveResult: write the fields unless one is refused."""
        merged = {**c.fields, **{k: v for k, v in fields.items() if k not in ("attributes", "id")}}
        if not merged.get("LastName"):
            return self._failed(
                c.id if not creating else None, "REQUIRED_FIELD_MISSING", "LastName"
            )
        ext = merged.get(self.external_id)
        if ext is not None and any(o.id != c.id for o in self.by(self.external_id, ext)):
            return self._failed(c.id, "DUPLICATE_VALUE", f"duplicate value found: {ext}")
        self._set(c, {k: v for k, v in merged.items() if v is not None})
        c.modstamp = self.now()
        if creating:
            self.contacts[c.id] = c
        return {"id": c.id, "success": True, "errors": [], "created": creating}

    @staticmethod
    def _failed(ident: str | None, code: str, message: str) -> dict[str, Any]:
        return {
            "id": ident,
            "success": False,
            "errors": [{"statusCode": code, "message": message, "fields": []}],
        }

    def _new(self) -> Contact:
        return Contact(f"003{next(self._ids):015d}", {}, self.now())

    async def _update_many(self, request: web.Request) -> web.Response:
        records = request[BODY]["records"]
        if len(records) > 200:
            return web.json_response(_errors("EXCEEDED_ID_LIMIT", "more than 200"), status=400)
        out = []
        for r in records:
            c = self.contacts.get(str(r.get("id")))
            if c is None:
                out.append(self._failed(r.get("id"), "ENTITY_IS_DELETED", "entity is deleted"))
            else:
                out.append(self._apply(c, r, creating=False))
        return web.json_response(out)

    async def _upsert_many(self, request: web.Request) -> web.Response:
        name = request.match_info["field"]
        records = request[BODY]["records"]
        if len(records) > 200:
            return web.json_response(_errors("EXCEEDED_ID_LIMIT", "more than 200"), status=400)
        out = []
        for r in records:
            matches = self.by(name, r.get(name))
            if len(matches) > 1:
                out.append(self._failed(None, "DUPLICATE_EXTERNAL_ID", f"{len(matches)} matches"))
            else:
                c = matches[0] if matches else self._new()
                out.append(self._apply(c, r, creating=not matches))
        return web.json_response(out)

    async def _upsert_one(self, request: web.Request) -> web.Response:
        name, value = request.match_info["field"], request.match_info["value"]
        matches = self.by(name, value)
        if len(matches) > 1:
            base = f"/services/data/{self.version}/sobjects/Contact/"
            return web.json_response([base + c.id for c in matches], status=300)
        c = matches[0] if matches else self._new()
        result = self._apply(c, {**request[BODY], name: value}, creating=not matches)
        if not result["success"]:
            code, message = result["errors"][0]["statusCode"], result["errors"][0]["message"]
            return web.json_response(_errors(code, message), status=400)
        return web.json_response(result, status=201 if result["created"] else 200)

    async def _update_one(self, request: web.Request) -> web.Response:
        c = self.contacts.get(request.match_info["id"])
        if c is None:
            return web.json_response(_errors("NOT_FOUND", "not found"), status=404)
        self._apply(c, request[BODY], creating=False)
        return web.Response(status=204)

    async def _delete(self, request: web.Request) -> web.Response:
        c = self.contacts.pop(request.match_info["id"], None)
        if c is None:
            return web.json_response(_errors("NOT_FOUND", "not found"), status=404)
        self._set(c, {})
        return web.Response(status=204)

    # -- SOQL -----------------------------------------------------------------------------

    async def _query(self, request: web.Request) -> web.Response:
        found = SOQL.match(request.query.get("q", ""))
        if found is None:
            return web.json_response(_errors("MALFORMED_QUERY", "fake: unsupported"), status=400)
        names = [f.strip() for f in found["fields"].split(",")]
        rows = self._where(found["where"])
        if rows is None:
            return web.json_response(_errors("MALFORMED_QUERY", "fake: unsupported"), status=400)
        rows.sort(key=lambda c: (c.modstamp, c.id))
        return self._page(rows, names, 0)

    def _where(self, where: str) -> list[Contact] | None:
        if since := SINCE.match(where):
            t = datetime.fromisoformat(since.group(1).replace("Z", "+00:00"))
            flag = since.group(2)
            return [
                c
                for c in self.contacts.values()
                if c.modstamp >= t and not (flag and c.fields.get(flag))
            ]
        if within := IN.match(where):
            values = {v.replace("\\'", "'").lower() for v in LITERAL.findall(within.group(2))}
            name = within.group(1)
            return [
                c for c in self.contacts.values() if str(c.fields.get(name, "")).lower() in values
            ]
        return None

    def _page(self, rows: list[Contact], names: list[str], start: int) -> web.Response:
        chunk = rows[start : start + self.page_size]
        body: dict[str, Any] = {
            "totalSize": len(rows),
            "done": start + self.page_size >= len(rows),
            "records": [self._record(c, names) for c in chunk],
        }
        if not body["done"]:
            cursor = f"01g{next(self._ids):012d}"
            self._cursors[cursor] = rows
            body["nextRecordsUrl"] = (
                f"/services/data/{self.version}/query/{cursor}-{start + self.page_size}"
            )
        self._names = names
        return web.json_response(body)

    async def _more(self, request: web.Request) -> web.Response:
        cursor, _, start = request.match_info["cursor"].rpartition("-")
        rows = self._cursors.get(cursor)
        if rows is None:
            return web.json_response(_errors("INVALID_QUERY_LOCATOR", "gone"), status=400)
        return self._page(rows, self._names, int(start))

    def _record(self, c: Contact, names: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {
                "type": "Contact",
                "url": f"/services/data/{self.version}/sobjects/Contact/{c.id}",
            }
        }
        for name in names:
            if name == "Id":
                out["Id"] = c.id
            elif name == "SystemModstamp":
                out[name] = _stamp(c.modstamp)
            else:
                out[name] = c.fields.get(name)
        return out


BODY = web.RequestKey("body", Any)
