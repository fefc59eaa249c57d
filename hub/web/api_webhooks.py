"""REST: webhook endpoints for admins: list, create (the secret shown once), disable,
enable, delete, the delivery log, redelivery."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from hub.config.webhooks import (
    EVENT_NAMES,
    MAX_URL,
    EndpointSettings,
    WebhookEndpointConfig,
)
from hub.core.sealed import sealer_for
from hub.store import utcnow
from hub.web.api_common import actor_of, error, int_param, path_id, read_body, text_param
from hub.web.deps import deps_of
from hub.webhooks.deliveries import NoSuchDelivery, delivery_log, redeliver
from hub.webhooks.destinations import destination_problem
from hub.webhooks.endpoints import (
    EndpointRefused,
    NoSuchEndpoint,
    create_endpoint,
    delete_endpoint,
    get_endpoint,
    list_endpoints,
    set_enabled,
)
from hub.webhooks.signing import new_secret

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class WebhookCreate(EndpointSettings):
    """A new endpoint; the hub makes its secret and answers it once. The bounds are in the
    schema too, for API clients."""

    url: str = Field(max_length=MAX_URL)
    events: list[str] = Field(
        default_factory=lambda: ["*"], min_length=1, max_length=len(EVENT_NAMES) + 1
    )


class WebhookDisable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=300)


def _admin(request: web.Request) -> None:
    if not actor_of(request).is_admin:
        raise error(403, "only admins manage webhooks")


def _endpoint_id(request: web.Request) -> str:
    raw = request.match_info["webhook_id"]
    if len(raw) > 40 or not raw.isascii():
        raise error(404, "not found")
    return raw


async def list_webhooks(request: web.Request) -> web.Response:
    _admin(request)
    async with deps_of(request).store.read() as conn:
        found = await list_endpoints(conn)
    return web.json_response({"webhooks": [e.as_json() for e in found]})


async def create_webhook(request: web.Request) -> web.Response:
    _admin(request)
    body = await read_body(request, WebhookCreate)
    if (problem := await destination_problem(body.url, body.allow_private)) is not None:
        raise error(422, f"url refused: {problem} (set allow_private for a LAN receiver)")
    secret = new_secret()
    cfg = WebhookEndpointConfig(**body.model_dump(), secret=SecretStr(secret))
    deps = deps_of(request)
    async with deps.store.write() as conn:
        try:
            created = await create_endpoint(conn, cfg, utcnow(), sealer_for(deps.secret))
        except EndpointRefused as exc:
            raise error(409, str(exc)) from None
    # The only time the secret leaves the hub: the receiver needs it to verify.
    return web.json_response({**created.as_json(), "secret": secret}, status=201)


async def get_webhook(request: web.Request) -> web.Response:
    _admin(request)
    async with deps_of(request).store.read() as conn:
        try:
            found = await get_endpoint(conn, _endpoint_id(request))
        except NoSuchEndpoint as exc:
            raise error(404, str(exc)) from None
    return web.json_response(found.as_json())


async def delete_webhook(request: web.Request) -> web.Response:
    _admin(request)
    async with deps_of(request).store.write() as conn:
        try:
            await delete_endpoint(conn, _endpoint_id(request))
        except NoSuchEndpoint as exc:
            raise error(404, str(exc)) from None
        except EndpointRefused as exc:
            raise error(409, str(exc)) from None
    return web.Response(status=204)


async def enable_webhook(request: web.Request) -> web.Response:
    return await _set(request, True)


async def disable_webhook(request: web.Request) -> web.Response:
    return await _set(request, False)


async def _set(request: web.Request, enabled: bool) -> web.Response:
    _admin(request)
    # The reason is optional: an empty body disables with the default one.
    reason = ""
    if not enabled and await request.read():
        reason = (await read_body(request, WebhookDisable)).reason
    async with deps_of(request).store.write() as conn:
        try:
            found = await set_enabled(conn, _endpoint_id(request), enabled, utcnow(), reason)
        except NoSuchEndpoint as exc:
            raise error(404, str(exc)) from None
    return web.json_response(found.as_json())


async def list_deliveries(request: web.Request) -> web.Response:
    _admin(request)
    limit = int_param(request, "limit", 50, 1, 200)
    status = text_param(request, "status", 16)
    if status is not None and status not in DELIVERY_STATUSES:
        raise error(400, f"status must be one of {', '.join(DELIVERY_STATUSES)}")
    async with deps_of(request).store.read() as conn:
        try:
            await get_endpoint(conn, _endpoint_id(request))
        except NoSuchEndpoint as exc:
            raise error(404, str(exc)) from None
        found = await delivery_log(conn, _endpoint_id(request), limit, status)
    return web.json_response({"deliveries": found})


async def redeliver_handler(request: web.Request) -> web.Response:
    _admin(request)
    delivery_id = path_id(request, "delivery_id")
    endpoint_id = _endpoint_id(request)
    async with deps_of(request).store.write() as conn:
        try:
            row = await redeliver(conn, delivery_id, utcnow(), endpoint_id)
        except NoSuchDelivery as exc:
            raise error(404, str(exc)) from None
    status: Literal["pending"] = "pending"
    return web.json_response({"id": row.id, "status": status}, status=202)


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/webhooks", list_webhooks)
    r.add_post("/webhooks", create_webhook)
    r.add_get("/webhooks/{webhook_id}", get_webhook)
    r.add_delete("/webhooks/{webhook_id}", delete_webhook)
    r.add_post("/webhooks/{webhook_id}/enable", enable_webhook)
    r.add_post("/webhooks/{webhook_id}/disable", disable_webhook)
    r.add_get("/webhooks/{webhook_id}/deliveries", list_deliveries)
    r.add_post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", redeliver_handler)
