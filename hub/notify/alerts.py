"""Operator alerts: a connector disabled (or not ready for too long), sends dead-lettered,
a webhook endpoint disabled (hub.webhooks, written where it is disabled), a CRM refusing
the sync's credentials (hub.crm).

Each becomes a row of `alert_events` per alert connector (`alerts.notify`), and a sweep
turns the pending rows into plain-text posts through the outbox, like ticket
notifications: the post is written in the transaction that marks its rows batched, so a
crash loses none and queues none twice.

Once, not per retry: a connector's trouble is one open incident per kind and target (a
unique index over the unresolved rows), closed when the connector runs again; several
hub processes seeing the same disable write one row. A dead-letter's row is written in
the transaction that dead-letters it (hub.outbox.outcomes). Never a loop: an alert about an alert
connector is held, not sent through it (logged, and listed in /healthz), and a
dead-lettered alert post raises no alert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.alerts import AlertsConfig
from hub.notify.post_batch import Batching, EventTable, PostSweep
from hub.outbox.dead_letters import (
    ALERT_KIND,
    CRM_AUTH,
    DEAD,
    DISABLED,
    NOT_READY,
    WEBHOOK_DISABLED,
)
from hub.outbox.enqueue import ChannelPost
from hub.store import Store, utcnow
from hub.store.schema import alert_events

log = logging.getLogger("hub.notify.alerts")


class Watched(Protocol):
    """What the watcher reads of a connector's supervisor (hub.channels.supervisor.Supervisor)."""

    @property
    def status(self) -> Any: ...


async def held_alerts(store: Store) -> list[dict[str, Any]]:
    """Open alerts that cannot be sent because they are about their own target."""
    ev = alert_events.c
    async with store.read() as conn:
        rows = await conn.execute(
            select(ev.connector_id, ev.kind, ev.detail, ev.created_at)
            .where(ev.status == "held", ev.resolved_at.is_(None))
            .order_by(ev.id)
            .limit(50)
        )
        return [
            {
                "connector": r.connector_id,
                "kind": r.kind,
                "detail": r.detail,
                "since": r.created_at.isoformat(),
            }
            for r in rows
        ]


async def open_incident(
    store: Store,
    conn: AsyncConnection,
    targets: Sequence[str],
    incident: tuple[str, str],
    detail: str,
    now: datetime,
) -> None:
    """In the caller's transaction: one open incident of `incident` (its kind, and the
    webhook endpoint or CRM connector it is about) per target; while it is open, a second
    writes nothing (the unique index over the unresolved rows)."""
    if not targets:
        return
    kind, about = incident
    rows = [
        {
            "target": t,
            "kind": kind,
            "connector_id": about,
            "detail": detail[:300],
            "status": "pending",
            "created_at": now,
        }
        for t in targets
    ]
    await conn.execute(store.insert(alert_events).on_conflict_do_nothing(), rows)


async def incident_open(conn: AsyncConnection, incident: tuple[str, str]) -> bool:
    kind, about = incident
    ev = alert_events.c
    found = await conn.execute(
        select(ev.id)
        .where(ev.connector_id == about, ev.kind == kind, ev.resolved_at.is_(None))
        .limit(1)
    )
    return found.first() is not None


async def close_incident(conn: AsyncConnection, incident: tuple[str, str], now: datetime) -> None:
    """What `incident` was about works again (an endpoint enabled, a CRM answering)."""
    kind, about = incident
    ev = alert_events.c
    await conn.execute(
        update(alert_events)
        .where(ev.connector_id == about, ev.kind == kind, ev.resolved_at.is_(None))
        .values(resolved_at=now)
    )


class AlertWatcher(PostSweep[AlertsConfig]):
    events = EventTable(
        alert_events,
        alert_events.c.target,
        (
            alert_events.c.kind,
            alert_events.c.connector_id,
            alert_events.c.detail,
            alert_events.c.dead_outbox_id,
        ),
    )
    logger = log

    def __init__(
        self,
        store: Store,
        settings: AlertsConfig,
        supervisors: Mapping[str, Watched],
        *,
        public_url: str,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(store, settings, on_queued)
        self.supervisors = supervisors
        self.health_url = f"{public_url.rstrip('/')}/healthz"
        self._recorded: set[tuple[str, str]] = set()  # (kind, connector) this process wrote
        self._down_since: dict[str, datetime] = {}
        self._running: set[str] = set()

    async def sweep_once(self) -> None:
        """Connector states become alert rows, then due alerts become posts."""
        await self.observe()
        await self.sweep()

    def targets(self) -> Sequence[str]:
        return self.settings.notify

    def batching(self) -> Batching:
        return Batching(
            self.settings.max_per_post,
            self.settings.batch_window_seconds,
            self.settings.batch_max_wait_seconds,
            # A connector in trouble is told at once; dead-letters wait to go as one.
            urgent=lambda rows: any(r.kind != DEAD for r in rows),
        )

    async def compose(self, conn: AsyncConnection, target: str, rows: Sequence[Any]) -> ChannelPost:
        title, body = self._render(rows)
        return ChannelPost(
            connector_id=target,
            key=f"alert-{target}-{rows[0].id}",
            kind=ALERT_KIND,
            subject=title,
            body=body,
            payload=None,
        )

    def log_queued(self, post: ChannelPost, outbox_id: int, rows: Sequence[Any]) -> None:
        log.info(
            "alert queued target=%s outbox=%s lines=%s", post.connector_id, outbox_id, len(rows)
        )

    async def observe(self, now: datetime | None = None) -> None:
        """Turn what the supervisors show into alert rows (or close incidents)."""
        now = now or utcnow()
        for cid, sup in self.supervisors.items():
            state, error = sup.status.state, sup.status.last_error or ""
            if state == "running":
                self._down_since.pop(cid, None)
                if cid not in self._running:
                    # Seen running (first time, or again): its earlier trouble is over.
                    await self._resolve(cid, now)
                    self._running.add(cid)
                    self._recorded -= {(DISABLED, cid), (NOT_READY, cid)}
                continue
            self._running.discard(cid)
            if state == "disabled":
                await self._open(DISABLED, cid, f"disabled: {error}", now)
            elif state in ("starting", "retrying"):
                since = self._down_since.setdefault(cid, now)
                waited = (now - since).total_seconds()
                if waited >= self.settings.not_ready_seconds:
                    detail = f"not ready for {waited / 60:.0f} min: {error or state}"
                    await self._open(NOT_READY, cid, detail, now)

    async def _open(self, kind: str, cid: str, detail: str, now: datetime) -> None:
        if (kind, cid) in self._recorded:
            return
        rows = [
            {
                "target": t,
                "kind": kind,
                "connector_id": cid,
                "detail": detail[:300],
                "status": "held" if t == cid else "pending",
                "created_at": now,
            }
            for t in self.settings.notify
        ]
        async with self.store.write() as conn:
            # Another process may hold the same open incident: then this writes nothing.
            written = (
                await conn.execute(
                    self.store.insert(alert_events)
                    .on_conflict_do_nothing()
                    .returning(alert_events.c.target, alert_events.c.status),
                    rows,
                )
            ).all()
        self._recorded.add((kind, cid))
        for r in written:
            if r.status == "held":
                log.error(
                    "alert not sent: it is about its own alert connector id=%s kind=%s %s",
                    cid,
                    kind,
                    detail,
                )

    async def _resolve(self, cid: str, now: datetime) -> None:
        ev = alert_events.c
        async with self.store.write() as conn:
            await conn.execute(
                update(alert_events)
                .where(
                    ev.connector_id == cid,
                    ev.kind.in_((DISABLED, NOT_READY)),
                    ev.resolved_at.is_(None),
                )
                .values(resolved_at=now)
            )

    def _render(self, rows: Sequence[Any]) -> tuple[str, str]:
        troubles = [r for r in rows if r.kind in (DISABLED, NOT_READY)]
        hooks = [r for r in rows if r.kind == WEBHOOK_DISABLED]
        crms = [r for r in rows if r.kind == CRM_AUTH]
        dead = [r for r in rows if r.kind == DEAD]
        parts = []
        if troubles:
            names = ", ".join(dict.fromkeys(r.connector_id for r in troubles))
            parts.append(f"connector {names} needs attention")
        if hooks:
            names = ", ".join(dict.fromkeys(r.connector_id for r in hooks))
            parts.append(f"webhook endpoint {names} disabled")
        if crms:
            names = ", ".join(dict.fromkeys(r.connector_id for r in crms))
            parts.append(f"CRM {names} refused its credentials")
        if dead:
            parts.append(f"{len(dead)} send{'' if len(dead) == 1 else 's'} dead-lettered")
        title = "Hub alert: " + "; ".join(parts)
        lines = [title]
        for r in troubles:
            lines.append(f"- {r.connector_id} {r.detail}")
            if r.kind == DISABLED:
                lines.append("  Its sends wait in the outbox: renew its credentials and restart.")
        for r in hooks:
            lines.append(f"- webhook {r.connector_id}: {r.detail}")
            lines.append(
                "  Its events wait: fix the receiver, then "
                f"POST /api/v1/webhooks/{r.connector_id}/enable"
            )
        for r in crms:
            lines.append(f"- CRM {r.connector_id}: {r.detail}")
            lines.append(
                "  Its customer changes wait: renew its credentials in the config and restart;"
                " the sync picks up where it stopped."
            )
        for r in dead:
            lines.append(f"- outbox {r.dead_outbox_id} via {r.connector_id}: {r.detail}")
        if dead:
            lines.append("Inspect: hub outbox list --dead; resend: hub outbox retry ID")
        lines.append(f"Health: {self.health_url}")
        return title, "\n".join(lines)
