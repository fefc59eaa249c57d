"""Pending events gathered into one post to a team channel (notifications, alerts).

Both event tables have `id`, `status` (pending, batched), `created_at`, `outbox_id` and
`batched_at`; a post is one outbox row queued in the transaction that marks its events
batched, so a crash neither loses an event nor posts it twice.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from sqlalchemy import Column, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.outbox.enqueue import ChannelPost, enqueue_post
from hub.store import Store, utcnow


@dataclass(frozen=True)
class EventTable:
    """An event table, the column naming the target an event is posted to, and the
    columns a post is written from."""

    table: Table
    owner: Column[Any]
    columns: tuple[Column[Any], ...]


def _never_urgent(rows: Sequence[Any]) -> bool:
    return False


@dataclass(frozen=True)
class Batching:
    """A batch goes when it has `size` events, when no event joined it for
    `window_seconds`, when its oldest has waited `max_wait_seconds`, or when `urgent`."""

    size: int
    window_seconds: float
    max_wait_seconds: float
    urgent: Callable[[Sequence[Any]], bool] = _never_urgent


class SweepSettings(Protocol):
    """What a sweep reads of its config section (NotificationsConfig, AlertsConfig)."""

    sweep_seconds: float
    batch_window_seconds: float
    batch_max_wait_seconds: float


async def pending_owners(store: Store, events: EventTable) -> set[str]:
    """Who has pending events, read without the write lock: most rounds find none, and a
    write transaction every round would wait behind ingest's writes and hold them up."""
    table = events.table
    async with store.read() as conn:
        rows = await conn.execute(
            select(events.owner).where(table.c.status == "pending").distinct()
        )
    return {str(r[0]) for r in rows}


async def take_due(
    conn: AsyncConnection, events: EventTable, owner_id: str, batching: Batching, now: datetime
) -> Sequence[Any] | None:
    """Up to `batching.size` pending events of `owner_id`, locked (other processes skip
    them), or None when there are none or they should wait for company: not a full post,
    not urgent, events still coming within the window, none older than the longest wait."""
    ev = events.table.c
    rows = (
        await conn.execute(
            select(ev.id, ev.created_at, *events.columns)
            .where(ev.status == "pending", events.owner == owner_id)
            .order_by(ev.id)
            .limit(batching.size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return None
    newest, oldest = max(r.created_at for r in rows), min(r.created_at for r in rows)
    quiet = now - timedelta(seconds=batching.window_seconds)
    overdue = now - timedelta(seconds=batching.max_wait_seconds)
    full = len(rows) >= batching.size
    if not batching.urgent(rows) and not full and newest > quiet and oldest > overdue:
        return None
    return rows


async def queue_post(
    conn: AsyncConnection, table: Table, rows: Sequence[Any], post: ChannelPost, now: datetime
) -> int:
    """The outbox row of one post, and its events marked batched with it."""
    outbox_id = await enqueue_post(conn, post, now=now)
    await conn.execute(
        update(table)
        .where(table.c.id.in_([r.id for r in rows]))
        .values(status="batched", outbox_id=outbox_id, batched_at=now)
    )
    return outbox_id


Settings = TypeVar("Settings", bound=SweepSettings)


class PostSweep(ABC, Generic[Settings]):
    """Every `interval_seconds`, each target's due events become posts: the notification
    sweep and the alert sweep differ only in their events and how a post reads."""

    events: ClassVar[EventTable]
    logger: ClassVar[logging.Logger]

    def __init__(self, store: Store, settings: Settings, on_queued: Callable[[], None]) -> None:
        self.store = store
        self.settings = settings
        self.on_queued = on_queued

    @property
    def interval_seconds(self) -> float:
        return self.settings.sweep_seconds

    @abstractmethod
    def targets(self) -> Sequence[str]:
        """The connectors posted to, in the order they are swept."""

    @abstractmethod
    def batching(self) -> Batching: ...

    @abstractmethod
    async def compose(self, conn: AsyncConnection, target: str, rows: Sequence[Any]) -> ChannelPost:
        """The post of a due batch, read in the transaction that queues it."""

    @abstractmethod
    def log_queued(self, post: ChannelPost, outbox_id: int, rows: Sequence[Any]) -> None: ...

    async def sweep_once(self) -> None:
        """One round; the hub's scheduler runs it every `interval_seconds`."""
        await self.sweep()

    async def sweep(self, now: datetime | None = None) -> int:
        """Queue every post that is due; returns how many."""
        now = now or utcnow()
        posts = 0
        pending = await pending_owners(self.store, self.events)
        for target in self.targets():
            while target in pending and await self._batch(target, now):
                posts += 1
        if posts:
            self.on_queued()
        return posts

    async def _batch(self, target: str, now: datetime) -> bool:
        async with self.store.write() as conn:
            rows = await take_due(conn, self.events, target, self.batching(), now)
            if rows is None:
                return False  # not full, and events are still coming: wait for company
            post = await self.compose(conn, target, rows)
            outbox_id = await queue_post(conn, self.events.table, rows, post, now)
        self.log_queued(post, outbox_id, rows)
        return True
