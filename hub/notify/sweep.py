"""The notification sweep: pending ticket notifications become a few batched posts.

Every `sweep_seconds` it looks at each notification connector's pending events. A full
batch (`max_tickets_per_post`) is queued at once; a smaller one once no event joined it
for `batch_window_seconds`, or its oldest has waited `batch_max_wait_seconds`. So a burst
of tickets becomes a few full posts and one remainder, however long the burst lasts, and
a lone ticket is told within seconds. The outbox row is written in the transaction that marks
its events batched: a crash loses none and queues none twice. On PostgreSQL the events
are taken with FOR UPDATE SKIP LOCKED, so several hub processes never batch one twice
(on SQLite the single writer does the same). The outbox then sends, paced by the
connector's `rate_limit_per_minute` and retried with backoff like any message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.config.notify import NotificationsConfig
from hub.messages import Notice, TicketAlert
from hub.notify.post_batch import Batching, EventTable, PostSweep
from hub.outbox.enqueue import ChannelPost
from hub.store import Store
from hub.store.schema import notification_events, tickets
from hub.tickets.records import ticket_ref

log = logging.getLogger("hub.notify")

# A subject longer than this is cut in a notification: the ticket holds the rest.
SUBJECT_CHARS = 150


@dataclass(frozen=True)
class TicketFacts:
    subject: str | None
    team: str
    priority: str


def build_notice(events: Sequence[Any], facts: dict[int, TicketFacts], inbox_url: str) -> Notice:
    """One notice for a batch of events (rows with ticket_id, kind, reason), one line per
    ticket in the order they came: a ticket opened and escalated in one batch is one line."""
    order: list[int] = []
    kinds: dict[int, set[str]] = {}
    reasons: dict[int, list[str]] = {}
    for e in events:
        if e.ticket_id not in kinds:
            order.append(e.ticket_id)
            kinds[e.ticket_id], reasons[e.ticket_id] = set(), []
        kinds[e.ticket_id].add(e.kind)
        if e.reason and e.reason not in reasons[e.ticket_id]:
            reasons[e.ticket_id].append(e.reason)
    alerts = []
    for ticket_id in order:
        f = facts[ticket_id]
        subject = (f.subject or "").strip() or "(no subject)"
        if len(subject) > SUBJECT_CHARS:
            subject = subject[: SUBJECT_CHARS - 1] + "…"
        alerts.append(
            TicketAlert(
                ref=ticket_ref(ticket_id),
                url=f"{inbox_url}/tickets/{ticket_id}",
                subject=subject,
                team=f.team,
                priority=f.priority,
                event=_event(kinds[ticket_id]),
                reason=", ".join(reasons[ticket_id]),
            )
        )
    return Notice(_title(alerts), tuple(alerts))


# The one line a ticket gets for the kinds of its events in a batch: the most telling.
EVENT_ORDER = ("opened", "sla_breached", "sla_warning", "escalated")


def _event(kinds: set[str]) -> str:
    return next((k for k in EVENT_ORDER if k in kinds), "escalated")


def _title(alerts: list[TicketAlert]) -> str:
    teams = list(dict.fromkeys(a.team for a in alerts))
    where = f" in {', '.join(teams)}" if len(teams) <= 3 else f" in {len(teams)} teams"
    if all(a.event.startswith("sla_") for a in alerts):
        return _sla_title(alerts, where)
    new = sum(a.event == "opened" for a in alerts)
    escalated = len(alerts) - new
    if not escalated:
        return f"{new} new ticket{_s(new)}{where}"
    if not new:
        return f"{escalated} ticket{_s(escalated)} escalated{where}"
    return f"{len(alerts)} tickets{where}: {new} new, {escalated} escalated"


def _sla_title(alerts: list[TicketAlert], where: str) -> str:
    breached = sum(a.event == "sla_breached" for a in alerts)
    warned = len(alerts) - breached
    parts = [f"{breached} SLA breach{'es' if breached != 1 else ''}"] if breached else []
    if warned:
        parts.append(f"{warned} SLA deadline{_s(warned)} near")
    return ", ".join(parts) + where


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def render_text(notice: Notice) -> str:
    """The plain-text form: the outbox row's body and every service's fallback."""
    lines = [notice.title]
    for a in notice.alerts:
        extra = f", {a.reason}" if a.reason else ""
        lines.append(f"{a.ref} {a.subject} ({a.team}, {a.priority}{extra}) {a.url}")
    return "\n".join(lines)


class NotificationSweeper(PostSweep[NotificationsConfig]):
    events = EventTable(
        notification_events,
        notification_events.c.connector_id,
        (
            notification_events.c.ticket_id,
            notification_events.c.kind,
            notification_events.c.reason,
        ),
    )
    logger = log

    def __init__(
        self,
        store: Store,
        settings: NotificationsConfig,
        connectors: Sequence[str],
        team_names: dict[str, str],
        *,
        public_url: str,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(store, settings, on_queued)
        self.connectors = list(connectors)
        self.team_names = team_names
        self.inbox_url = f"{public_url.rstrip('/')}/inbox"

    def targets(self) -> Sequence[str]:
        return self.connectors

    def batching(self) -> Batching:
        return Batching(
            self.settings.max_tickets_per_post,
            self.settings.batch_window_seconds,
            self.settings.batch_max_wait_seconds,
        )

    async def compose(self, conn: AsyncConnection, target: str, rows: Sequence[Any]) -> ChannelPost:
        notice = build_notice(rows, await self._facts(conn, rows), self.inbox_url)
        return ChannelPost(
            connector_id=target,
            key=f"notify-{target}-{rows[0].id}",
            kind="notification",
            subject=notice.title,
            body=render_text(notice),
            payload=notice.to_json(),
        )

    def log_queued(self, post: ChannelPost, outbox_id: int, rows: Sequence[Any]) -> None:
        log.info(
            "notification queued connector=%s outbox=%s tickets=%s",
            post.connector_id,
            outbox_id,
            len({r.ticket_id for r in rows}),
        )

    async def _facts(self, conn: AsyncConnection, rows: Sequence[Any]) -> dict[int, TicketFacts]:
        ids = sorted({r.ticket_id for r in rows})
        found = await conn.execute(
            select(tickets.c.id, tickets.c.subject, tickets.c.team_id, tickets.c.priority).where(
                tickets.c.id.in_(ids)
            )
        )
        return {
            r.id: TicketFacts(r.subject, self.team_names.get(r.team_id, r.team_id), r.priority)
            for r in found
        }
