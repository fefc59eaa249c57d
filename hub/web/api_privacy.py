"""REST: a customer's data export and erasure, for admins only; erasures are audited."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from hub.privacy.erase import Eraser, erase_customer
from hub.privacy.export import export_customer
from hub.privacy.scope import UnknownCustomer, find_customer
from hub.store import utcnow
from hub.web.api_common import actor_of, error, path_id, read_body
from hub.web.deps import deps_of


class EraseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["delete", "anonymize"]


def _admin_only(request: web.Request, what: str) -> None:
    if not actor_of(request).is_admin:
        raise error(403, f"only admins {what}")


async def get_export(request: web.Request) -> web.Response:
    _admin_only(request, "export customer data")
    async with deps_of(request).store.read() as conn:
        try:
            cid = await find_customer(conn, str(path_id(request)))
        except UnknownCustomer:
            raise error(404, "not found") from None
        document = await export_customer(conn, cid, utcnow())
    return web.json_response(
        document,
        headers={"Content-Disposition": f'attachment; filename="customer-{cid}.json"'},
    )


async def post_erase(request: web.Request) -> web.Response:
    _admin_only(request, "erase customers")
    body = await read_body(request, EraseBody)
    deps = deps_of(request)
    actor = actor_of(request)
    async with deps.store.write() as conn:
        try:
            cid = await find_customer(conn, str(path_id(request)))
        except UnknownCustomer:
            raise error(404, "not found") from None
        ledger = Path(deps.privacy.ledger_file)
        by = Eraser(f"{actor.kind}:{actor.username}", deps.secret, utcnow(), ledger)
        report = await erase_customer(conn, cid, body.mode, by)
    return web.json_response(
        {"customer_id": report.customer_id, "mode": report.mode, "counts": report.counts}
    )
