"""Webhook endpoints: those of the config synced into `webhook_endpoints` at start, those
admins create through the API, their state (active, disabled, removed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.webhooks import WebhookEndpointConfig
from hub.core.sealed import Sealer, is_sealed
from hub.notify.alerts import close_incident
from hub.outbox.dead_letters import WEBHOOK_DISABLED
from hub.store import CONFIG_SYNC, Store
from hub.store.schema import webhook_attempts, webhook_deliveries, webhook_endpoints

ACTIVE, DISABLED, REMOVED = "active", "disabled", "removed"
ep = webhook_endpoints.c


class NoSuchEndpoint(LookupError):
    pass


class EndpointRefused(ValueError):
    """The change cannot be made (an id taken, an endpoint owned by the config file)."""


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    events: tuple[str, ...]
    source: str
    allow_private: bool
    max_failures: int
    max_attempts: int
    timeout_seconds: float
    status: str
    disabled_reason: str | None
    consecutive_failures: int
    created_at: datetime
    disabled_at: datetime | None

    def wants(self, event_type: str) -> bool:
        return "*" in self.events or event_type in self.events

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "source": self.source,
            "allow_private": self.allow_private,
            "max_failures": self.max_failures,
            "max_attempts": self.max_attempts,
            "timeout_seconds": self.timeout_seconds,
            "status": self.status,
            "disabled_reason": self.disabled_reason,
            "consecutive_failures": self.consecutive_failures,
            "created_at": self.created_at.isoformat(),
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
        }


def endpoint_of(row: Any) -> Endpoint:
    return Endpoint(
        id=row.id,
        url=row.url,
        events=tuple(row.events or ()),
        source=row.source,
        allow_private=bool(row.allow_private),
        max_failures=row.max_failures,
        max_attempts=row.max_attempts,
        timeout_seconds=row.timeout_ms / 1000,
        status=row.status,
        disabled_reason=row.disabled_reason,
        consecutive_failures=row.consecutive_failures,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )


def _settings(cfg: WebhookEndpointConfig) -> dict[str, Any]:
    return {
        "url": cfg.url,
        "events": list(cfg.events),
        "allow_private": cfg.allow_private,
        "max_failures": cfg.max_failures,
        "max_attempts": cfg.max_attempts,
        "timeout_ms": round(cfg.timeout_seconds * 1000),
    }


async def sync_config_endpoints(
    store: Store, configured: Sequence[WebhookEndpointConfig], now: datetime
) -> None:
    """The config's endpoints into the table (their secrets stay in the config); one dropped
    from the file is marked removed, keeping its log. A disabled one stays disabled."""
    ids = [c.id for c in configured]
    async with store.write_in_turn(CONFIG_SYNC) as conn:
        known = {
            r.id: r
            for r in await conn.execute(select(ep.id, ep.status, ep.source).where(ep.id.in_(ids)))
        }
        for cfg in configured:
            row = known.get(cfg.id)
            values = {**_settings(cfg), "source": "config", "secret": None, "updated_at": now}
            if row is None:
                await conn.execute(
                    webhook_endpoints.insert().values(
                        id=cfg.id,
                        status=ACTIVE,
                        consecutive_failures=0,
                        created_at=now,
                        **values,
                    )
                )
            else:
                if row.status == REMOVED:
                    values["status"] = ACTIVE
                await conn.execute(
                    update(webhook_endpoints).where(ep.id == cfg.id).values(**values)
                )
        await conn.execute(
            update(webhook_endpoints)
            .where(ep.source == "config", ep.status != REMOVED, ep.id.not_in(ids))
            .values(status=REMOVED, updated_at=now)
        )


async def list_endpoints(conn: AsyncConnection) -> list[Endpoint]:
    rows = await conn.execute(select(webhook_endpoints).where(ep.status != REMOVED).order_by(ep.id))
    return [endpoint_of(r) for r in rows]


async def get_endpoint(conn: AsyncConnection, endpoint_id: str) -> Endpoint:
    row = (
        await conn.execute(
            select(webhook_endpoints).where(ep.id == endpoint_id, ep.status != REMOVED)
        )
    ).first()
    if row is None:
        raise NoSuchEndpoint(f"no webhook endpoint {endpoint_id!r}")
    return endpoint_of(row)


async def api_secrets(conn: AsyncConnection) -> dict[str, str]:
    """The secrets of endpoints created through the API (the config holds the others), as
    stored: sealed (hub.core.sealed), or plain from before sealing."""
    rows = await conn.execute(
        select(ep.id, ep.secret).where(ep.source == "api", ep.secret.is_not(None))
    )
    return {r.id: r.secret for r in rows}


async def seal_stored_secrets(conn: AsyncConnection, sealer: Sealer) -> int:
    """Seal the API endpoints' secrets stored before sealing; how many."""
    plain = [(eid, s) for eid, s in (await api_secrets(conn)).items() if not is_sealed(s)]
    for endpoint_id, secret in plain:
        await conn.execute(
            update(webhook_endpoints)
            .where(ep.id == endpoint_id, ep.secret == secret)
            .values(secret=sealer.seal(secret))
        )
    return len(plain)


async def create_endpoint(
    conn: AsyncConnection, cfg: WebhookEndpointConfig, now: datetime, sealer: Sealer
) -> Endpoint:
    """A new API endpoint signing with `cfg.secret` (shown to its creator once, stored
    sealed)."""
    taken = (await conn.execute(select(ep.id).where(ep.id == cfg.id))).first()
    if taken is not None:
        raise EndpointRefused(f"the id {cfg.id!r} is taken")
    await conn.execute(
        webhook_endpoints.insert().values(
            id=cfg.id,
            source="api",
            secret=sealer.seal(cfg.secret.get_secret_value()),
            status=ACTIVE,
            consecutive_failures=0,
            created_at=now,
            updated_at=now,
            **_settings(cfg),
        )
    )
    return await get_endpoint(conn, cfg.id)


async def delete_endpoint(conn: AsyncConnection, endpoint_id: str) -> None:
    """An API endpoint and its delivery log; a config one is removed from the file instead."""
    found = await get_endpoint(conn, endpoint_id)
    if found.source == "config":
        raise EndpointRefused(
            f"{endpoint_id!r} is defined in the config file: remove it there (or disable it)"
        )
    deliveries = select(webhook_deliveries.c.id).where(
        webhook_deliveries.c.endpoint_id == endpoint_id
    )
    await conn.execute(
        delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(deliveries))
    )
    await conn.execute(
        delete(webhook_deliveries).where(webhook_deliveries.c.endpoint_id == endpoint_id)
    )
    await conn.execute(delete(webhook_endpoints).where(ep.id == endpoint_id))


async def set_enabled(
    conn: AsyncConnection, endpoint_id: str, enabled: bool, now: datetime, reason: str = ""
) -> Endpoint:
    """Enable (failures forgotten, its alert closed; what waited goes out) or disable."""
    await get_endpoint(conn, endpoint_id)
    if enabled:
        values: dict[str, Any] = {
            "status": ACTIVE,
            "consecutive_failures": 0,
            "disabled_reason": None,
            "disabled_at": None,
        }
        await close_incident(conn, (WEBHOOK_DISABLED, endpoint_id), now)
    else:
        values = {"status": DISABLED, "disabled_reason": reason[:300] or "disabled by an admin",
                  "disabled_at": now}  # fmt: skip
    await conn.execute(
        update(webhook_endpoints).where(ep.id == endpoint_id).values(updated_at=now, **values)
    )
    return await get_endpoint(conn, endpoint_id)
