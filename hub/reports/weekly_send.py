"""The weekly summary job: each round queues every summary whose week is due and not yet
sent, one email per recipient through the outbox (its retries, dead letters and alerts
apply). Once per summary and week is the database's guarantee: the weekly_summary_sends
row is inserted (or found there already) in the transaction of the outbox rows, so
several hub processes, a second round or a restart never send a week twice.

The figures are the Reports module's (hub.reports.report.build_report), for the week and
the week before, in the summary's zone; no SQL of its own for metrics.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub.config.weekly_summary import WeeklySummary, WeeklySummaryConfig
from hub.core.replies import Rendered, Replies
from hub.messages import Address
from hub.outbox.enqueue import Outbound, enqueue_outbound_many
from hub.reports.figures import Figures
from hub.reports.report import build_report
from hub.reports.request import ReportForm, build_request
from hub.reports.weekly_mail import TEMPLATE, SummaryMail, lines, reports_link
from hub.reports.weekly_when import Week, due_week
from hub.store import Store, utcnow
from hub.store.schema import weekly_summary_sends

log = logging.getLogger("hub.reports.weekly")
KIND = "weekly_summary"


class WeeklySummaryFailed(Exception):
    """Some summaries could not be queued this round (each logged); they stay due, and the
    next round (after the scheduler's backoff) tries them again."""


@dataclass(frozen=True)
class WeeklyDeps:
    store: Store
    replies: Replies
    public_url: str
    # The rollup's zone (reports.timezone), and a summary's zone when it names none.
    report_zone: str
    team_names: Mapping[str, str]
    on_queued: Callable[[], None] = lambda: None


async def week_figures(
    store: Store, week: Week, zone: ZoneInfo, team: str | None, report_zone: str
) -> tuple[Figures, Figures]:
    """The week's figures and the week before's, medians included, for one team or all."""
    filters = {"team": team} if team else {}
    out = []
    for first, last in ((week.start, week.end), week.previous()):
        form = ReportForm(first.isoformat(), last.isoformat(), zone.key, filters=filters)
        req = build_request(form, None, max_days=7)
        out.append((await build_report(store, req, report_zone)).total)
    return out[0], out[1]


def idempotency_key(name: str, week_start: date, address: str) -> str:
    # The address hashed: a key is at most 100 characters, an address up to 320.
    digest = hashlib.sha256(address.encode()).hexdigest()[:20]
    return f"weekly:{name}:{week_start.isoformat()}:{digest}"


class WeeklySummaries:
    def __init__(self, deps: WeeklyDeps, config: WeeklySummaryConfig) -> None:
        self.deps = deps
        self.config = config

    @property
    def every(self) -> timedelta:
        return timedelta(minutes=self.config.check_minutes)

    async def run(self, now: datetime | None = None) -> list[str]:
        """Queue every summary due at `now` whose week is not sent yet; the names queued.
        Safe to run as often and in as many processes as wanted."""
        now = now or utcnow()
        queued: list[str] = []
        failed: list[str] = []
        for summary in self.config.summaries:
            # One summary's trouble (a broken template) does not hold back the others.
            try:
                if await self._send(summary, now):
                    queued.append(summary.name)
            except Exception:
                log.exception("weekly summary failed summary=%s", summary.name)
                failed.append(summary.name)
        if queued:
            self.deps.on_queued()
        if failed:
            raise WeeklySummaryFailed(f"weekly summaries not queued: {', '.join(failed)}")
        return queued

    def zone(self, summary: WeeklySummary) -> ZoneInfo:
        return ZoneInfo(summary.timezone or self.deps.report_zone)

    def due(self, summary: WeeklySummary, now: datetime) -> Week:
        weekday, at = summary.schedule()
        return due_week(now, weekday, at, self.zone(summary))

    async def render(self, summary: WeeklySummary, week: Week) -> Rendered:
        """The summary of `week` as its recipients get it."""
        zone = self.zone(summary)
        now_f, before_f = await week_figures(
            self.deps.store, week, zone, summary.team, self.deps.report_zone
        )
        mail = SummaryMail(
            name=summary.name,
            team=self.deps.team_names.get(summary.team) if summary.team else None,
            week=week,
            zone=zone.key,
            rows=lines(now_f, before_f, summary.language),
            link=reports_link(self.deps.public_url, week, zone.key, summary.team),
        )
        return self.deps.replies.render(TEMPLATE, summary.language, mail.context())

    async def _send(self, summary: WeeklySummary, now: datetime) -> bool:
        week = self.due(summary, now)
        # Most rounds find the week sent: one indexed read, no report built.
        if await self.sent(summary.name, week.start):
            return False
        return await self.queue(summary, week, now)

    async def queue(self, summary: WeeklySummary, week: Week, now: datetime) -> bool:
        """Render the summary of `week` and queue it to every recipient, unless another
        round or process has queued that week already (then False, and nothing queued)."""
        rendered = await self.render(summary, week)
        won = await self._claim_and_enqueue(summary, week, rendered, now)
        if won:
            log.info(
                "weekly summary queued summary=%s week=%s recipients=%d",
                summary.name,
                week.start.isoformat(),
                len(summary.to),
            )
        return won

    async def sent(self, name: str, week_start: date) -> bool:
        s = weekly_summary_sends.c
        async with self.deps.store.read() as conn:
            found = await conn.execute(
                select(s.summary).where(s.summary == name, s.week_start == week_start)
            )
            return found.first() is not None

    async def _claim_and_enqueue(
        self, summary: WeeklySummary, week: Week, rendered: Rendered, now: datetime
    ) -> bool:
        """The week's row and its outbox rows in one transaction; False when another round
        or process inserted the row first (its mails are queued, these are not)."""
        store = self.deps.store
        row = {
            "summary": summary.name,
            "week_start": week.start,
            "recipients": len(summary.to),
            "created_at": now,
        }
        async with store.write() as conn:
            claimed = await conn.execute(
                store.insert(weekly_summary_sends)
                .values(row)
                .on_conflict_do_nothing(index_elements=["summary", "week_start"])
                .returning(weekly_summary_sends.c.summary)
            )
            if claimed.first() is None:
                return False
            mails = [self._outbound(summary, week, rendered, to) for to in summary.to]
            await enqueue_outbound_many(conn, mails, now=now)
        return True

    @staticmethod
    def _outbound(summary: WeeklySummary, week: Week, rendered: Rendered, to: str) -> Outbound:
        return Outbound(
            connector_id=summary.via,
            ticket_id=None,
            customer_id=None,
            to=Address("email", to),
            kind=KIND,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            auto_submitted=True,
            language=rendered.locale,
            idempotency_key=idempotency_key(summary.name, week.start, to),
        )
