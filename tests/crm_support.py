"""Helpers for the CRM sync tests: a migrated store, a clock tests move, customers made
through the hub's own paths, and a syncer wired to a connector's real client."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from hub.connector import ConnectorType, CrmContext
from hub.crm.parts import SyncEffects, SyncParts
from hub.crm.sync import CrmSyncer
from hub.customers.records import CustomerCreate, IdentityIn, create_customer
from hub.customers.views import update_customer
from hub.events.outgoing import CUSTOMER_CREATED, OutgoingEvent, emit
from hub.privacy.erase import Eraser, erase_customer
from hub.store import Store
from hub.store.schema import crm_links, customers, identities
from tests.migrated import copy_sqlite

LOCALES = ["en", "bn"]


@dataclass
class Clock:
    """UTC now for the sync, moved by the test; monotonic() and sleep() for the client,
    which record the waits instead of taking them when `real_sleep` is off."""

    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    mono: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        step = timedelta(**delta)
        self.at += step
        self.mono += step.total_seconds()

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.mono += seconds


@asynccontextmanager
async def migrated(url: str) -> AsyncIterator[Store]:
    store = Store(url)
    try:
        await store.migrate()
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def sqlite_store(directory: Path) -> AsyncIterator[Store]:
    """A migrated SQLite store of its own (tests.migrated's template, copied)."""
    target = directory / "hub.db"
    await copy_sqlite(target)
    async with migrated(f"sqlite+aiosqlite:///{target}") as store:
        yield store


def syncer(
    store: Store,
    ctype: ConnectorType,
    config: Any,
    clock: Clock,
    *,
    real_time: bool = False,
    alerts: tuple[str, ...] = (),
) -> CrmSyncer:
    """A syncer for `config` with the connector's real client. real_time: the client paces
    itself by the real clock (against a fake that counts real time); alerts: where a
    refused credential is alerted."""
    import asyncio
    import logging
    import time

    assert ctype.crm is not None
    ctx = CrmContext(
        connector_id=config.id,
        logger=logging.getLogger("tests.crm"),
        monotonic=time.monotonic if real_time else clock.monotonic,
        sleep=asyncio.sleep if real_time else clock.sleep,
    )
    parts = SyncParts(
        connector_id=config.id,
        kind=ctype.name,
        settings=config.sync,
        client=ctype.crm(config, ctx),
        store=store,
        now=clock.now,
        locales=tuple(LOCALES),
        timezone="Asia/Dhaka",
        region="BD",
        rng=random.Random(7),
        effects=SyncEffects(alert_targets=alerts),
    )
    return CrmSyncer(parts)


async def new_customers(store: Store, people: list[dict[str, Any]]) -> list[int]:
    """Customers made as the API makes them (customer.created emitted with each)."""
    ids = []
    async with store.write() as conn:
        for p in people:
            idents = [IdentityIn(kind=k, value=p[k]) for k in ("email", "phone") if p.get(k)]
            body = CustomerCreate(
                identities=idents, **{k: v for k, v in p.items() if k not in ("email", "phone")}
            )
            ids.append(
                await create_customer(
                    conn,
                    body,
                    locales=LOCALES,
                    default_locale="en",
                    default_timezone="Asia/Dhaka",
                    region="BD",
                )
            )
    return ids


async def many_customers(store: Store, people: list[dict[str, Any]]) -> list[int]:
    """Many customers at once (a bulk load), each announced by customer.created as the hub's
    paths announce it; for the volume tests, where one API call each would take minutes."""
    now = datetime.now(UTC)
    async with store.write() as conn:
        top = (await conn.execute(select(func.max(customers.c.id)))).scalar() or 0
        ids = list(range(top + 1, top + 1 + len(people)))
        await conn.execute(
            customers.insert(),
            [
                {
                    "id": i,
                    "display_name": p.get("display_name"),
                    "locale": "en",
                    "timezone": "Asia/Dhaka",
                    "address": p.get("address", {}),
                    "tags": p.get("tags", []),
                    "created_at": now,
                    "updated_at": now,
                }
                for i, p in zip(ids, people, strict=True)
            ],
        )
        await conn.execute(
            identities.insert(),
            [
                {
                    "customer_id": i,
                    "kind": k,
                    "value": p[k],
                    "unreachable": False,
                    "created_at": now,
                }
                for i, p in zip(ids, people, strict=True)
                for k in ("email", "phone")
                if p.get(k)
            ],
        )
        events = [OutgoingEvent(CUSTOMER_CREATED, {"customer_id": i}, customer_id=i) for i in ids]
        await emit(conn, events, now)
    return ids


async def agent_edit(store: Store, customer_id: int, **values: Any) -> None:
    """An edit as the inbox and the API make it."""
    async with store.write() as conn:
        await update_customer(conn, customer_id, values)


async def erase(store: Store, customer_id: int, tmp: Path) -> None:
    """An erasure as the privacy API and CLI make it (it emits customer.erased)."""
    by = Eraser(
        actor="tests",
        secret=b"s" * 32,
        now=datetime.now(UTC),
        ledger_file=tmp / "erasure-ledger.jsonl",
    )
    async with store.write() as conn:
        await erase_customer(conn, customer_id, "delete", by)


async def customer(store: Store, customer_id: int) -> Any:
    async with store.read() as conn:
        return (await conn.execute(select(customers).where(customers.c.id == customer_id))).one()


async def remote_id(store: Store, customer_id: int, kind: str) -> str | None:
    async with store.read() as conn:
        return (
            await conn.execute(
                select(identities.c.value).where(
                    identities.c.customer_id == customer_id, identities.c.kind == kind
                )
            )
        ).scalar_one_or_none()


async def links(store: Store, connector_id: str) -> list[Any]:
    async with store.read() as conn:
        return (
            await conn.execute(
                select(crm_links)
                .where(crm_links.c.connector_id == connector_id)
                .order_by(crm_links.c.customer_id)
            )
        ).all()
