"""/healthz (liveness: the process serves; storage and connectors shown) and /readyz
(readiness: 503 until storage takes writes and every connector runs), one JSON detail."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from aiohttp import web

from hub.notify.alerts import held_alerts
from hub.store.faults import storage_place
from hub.store.health import storage_fault
from hub.web.deps import WebDeps, deps_of

log = logging.getLogger("hub.web")


async def healthz(request: web.Request) -> web.Response:
    body = await health_detail(deps_of(request))
    return web.json_response(body, status=503 if body["storage"] != "ok" else 200)


async def readyz(request: web.Request) -> web.Response:
    """Ready to take traffic: storage takes writes and every connector is running (one
    still starting, retrying or disabled is not), so a load balancer waits for it."""
    body = await health_detail(deps_of(request))
    return web.json_response(body, status=200 if body["status"] == "ok" else 503)


async def health_detail(deps: WebDeps) -> dict[str, Any]:
    fault = await storage_fault(deps.store)
    if fault is not None:
        deps.metrics.errors.labels(where="storage").inc()
        log.error("storage cannot be written: %s place=%s", fault, storage_place(deps.store.url))
    connectors = {
        cid: {
            "type": deps.connectors[cid].config.type,
            "state": sup.status.state,
            "error": sup.status.last_error,
            "since": sup.status.since.isoformat() if sup.status.since else None,
        }
        for cid, sup in deps.supervisors.items()
    }
    degraded = any(c["state"] != "running" for c in connectors.values())
    status = "down" if fault is not None else ("degraded" if degraded else "ok")
    body: dict[str, Any] = {"status": status, "storage": "ok" if fault is None else "error"}
    if fault is not None:
        body["storage_error"] = fault
    body["connectors"] = connectors
    if deps.broadcast_state() != "local":
        # Live notices between processes (web chat replies): while reconnecting, replies
        # reach other processes' tabs from the history, not live; nothing is lost.
        body["broadcast"] = deps.broadcast_state()
    if deps.alerts.notify and fault is None:
        # Alerts about an alert connector itself: nobody was told but this page and the log.
        with contextlib.suppress(Exception):
            body["alerts_held"] = await held_alerts(deps.store)
    return body
