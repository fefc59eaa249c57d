"""Queuing a CSAT survey when a ticket is solved: at most one per solve cycle and one per
customer per N days, never to a customer who opted out, through the outbox at its
`send_at`, in the transaction of the solve. The agent and team it credits are fixed here."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.channels.reply_window import BoundWindow
from hub.config.surveys import SurveysConfig
from hub.core.replies import Replies, TemplateProblem
from hub.customers.consent import OPT_OUT, consent_status
from hub.events.metrics import SURVEY_SENT, MetricEvent, record
from hub.messages import Address, Choice, TemplateMessage
from hub.outbox.enqueue import enqueue_outbound
from hub.store import Store
from hub.store.schema import customers, messages, surveys, tickets
from hub.surveys.tokens import RATINGS, choice_payload, new_token, token_hash
from hub.tickets.records import ticket_ref

log = logging.getLogger("hub.surveys")

QUEUED, SKIPPED, WITHDRAWN = "queued", "skipped", "withdrawn"
KIND = "csat_survey"
# The labels of the rating buttons: the number a customer presses, with a star to say
# which end is good, the same in every language.
LABELS = {1: "1 ★", 2: "2 ★", 3: "3 ★", 4: "4 ★", 5: "5 ★"}


@dataclass(frozen=True)
class SurveyPlanner:
    """What queuing a survey needs of the hub, built once (hub.assembly)."""

    config: SurveysConfig
    replies: Replies
    secret: bytes
    public_url: str
    signature: str
    # Connectors that show choices as buttons (ChannelDirectory.choice_senders).
    choice_senders: frozenset[str]
    # Connectors with a reply window (ChannelDirectory.reply_windows).
    windows: Mapping[str, BoundWindow]
    # The reporting day's zone (the metric rollup's).
    zone: tzinfo

    def page_url(self, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/survey/{token}"


@dataclass(frozen=True)
class SolvedTicket:
    """A ticket just solved, and where a reply to its customer would go."""

    ticket: Any  # its row, as it was before the solve
    # The newest customer message on it: one survey per such message (solve cycle).
    cycle_message_id: int
    connector_id: str
    to: Address
    # Not before this (the solving reply, scheduled for later, must go first).
    not_before: datetime | None = None


@dataclass(frozen=True)
class SurveyOutcome:
    status: str  # queued | skipped | not_sent
    reason: str = ""
    survey_id: int | None = None


async def queue_survey(
    store: Store, conn: AsyncConnection, planner: SurveyPlanner, solved: SolvedTicket, now: datetime
) -> SurveyOutcome:
    """Queue the ticket's survey if one is due; says what it did and why."""
    cfg, ticket = planner.config, solved.ticket
    if not cfg.enabled:
        return SurveyOutcome("not_sent", "surveys are off")
    if ticket.conversation is not None:
        return SurveyOutcome("not_sent", "a shared conversation is not surveyed")
    if await consent_status(conn, ticket.customer_id, solved.to.kind) == OPT_OUT:
        return SurveyOutcome("not_sent", f"the customer opted out of {solved.to.kind}")
    if cfg.per_customer_days and await _asked_lately(conn, ticket.customer_id, cfg, now):
        return SurveyOutcome(
            "not_sent", f"the customer was asked in the last {cfg.per_customer_days} days"
        )
    token = new_token()
    send_at = max(now, solved.not_before or now) + cfg.delay_time
    agent = await _answering_agent(conn, ticket)
    locale = (
        await conn.execute(select(customers.c.locale).where(customers.c.id == ticket.customer_id))
    ).scalar_one()
    survey_id = (
        await conn.execute(
            store.insert(surveys)
            .values(
                ticket_id=ticket.id,
                customer_id=ticket.customer_id,
                cycle_message_id=solved.cycle_message_id,
                token_hash=token_hash(token),
                connector_id=solved.connector_id,
                channel=solved.to.kind,
                language=locale,
                agent=agent,
                team_id=ticket.team_id,
                status=QUEUED,
                send_at=send_at,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["ticket_id", "cycle_message_id"])
            .returning(surveys.c.id)
        )
    ).scalar()
    if survey_id is None:
        return SurveyOutcome("not_sent", "this solve cycle was surveyed already")
    form = await _form(conn, planner, solved, locale, send_at)
    outbox_id = None
    if not form.skip:
        try:
            outbox_id = await _enqueue(
                conn, planner, solved, _Send(survey_id, token, locale, form, now, send_at)
            )
        except TemplateProblem as exc:
            # A broken survey template must not stop agents from solving tickets.
            log.error("survey template problem ticket=%s: %s", ticket.id, exc)
            form = _Form(skip=f"CSAT survey not sent: {exc}")
    if outbox_id is None:
        await conn.execute(
            update(surveys)
            .where(surveys.c.id == survey_id)
            .values(status=SKIPPED, note=form.skip[:300])
        )
        return SurveyOutcome(SKIPPED, form.skip, survey_id)
    await conn.execute(update(surveys).where(surveys.c.id == survey_id).values(outbox_id=outbox_id))
    await record(conn, [_sent(ticket, send_at, agent)], planner.zone)
    log.info("survey queued ticket=%s survey=%s channel=%s", ticket.id, survey_id, solved.to.kind)
    return SurveyOutcome(QUEUED, "", survey_id)


def _sent(ticket: Any, send_at: datetime, agent: str | None) -> MetricEvent:
    """Counted when due: a response rate compares answers with surveys that went out."""
    return MetricEvent(
        SURVEY_SENT,
        send_at,
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        team=ticket.team_id,
        channel=ticket.channel,
        agent=agent,
        priority=ticket.priority,
        tags=tuple(ticket.tags or ()),
    )


async def _asked_lately(
    conn: AsyncConnection, customer_id: int, cfg: SurveysConfig, now: datetime
) -> bool:
    since = now - timedelta(days=cfg.per_customer_days)
    count = (
        await conn.execute(
            select(func.count())
            .select_from(surveys)
            .where(
                surveys.c.customer_id == customer_id,
                surveys.c.status == QUEUED,
                surveys.c.created_at > since,
            )
        )
    ).scalar_one()
    return bool(count)


async def _answering_agent(conn: AsyncConnection, ticket: Any) -> str | None:
    """The agent who last answered the customer (the one the rating is about), else the
    assignee: credited now, so a reassignment after the solve moves no rating."""
    rows = await conn.execute(
        select(messages.c.meta)
        .where(messages.c.ticket_id == ticket.id, messages.c.direction == "out")
        .order_by(messages.c.id.desc())
        .limit(50)
    )
    for (meta,) in rows:
        meta = meta or {}
        if meta.get("kind") == "agent_reply" and meta.get("agent_username"):
            return str(meta["agent_username"])[:100]
    return ticket.assignee  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Form:
    """How the survey goes on its channel: buttons, links, an approved template, or not."""

    buttons: bool = False
    template: Any = None  # the ApprovedTemplate outside a reply window
    skip: str = ""


async def _form(
    conn: AsyncConnection, planner: SurveyPlanner, solved: SolvedTicket, locale: str, at: datetime
) -> _Form:
    window = planner.windows.get(solved.connector_id)
    buttons = solved.connector_id in planner.choice_senders
    if window is None or await _inside_window(conn, window, solved, at):
        return _Form(buttons=buttons)
    approved = planner.config.whatsapp_templates
    template = approved.get(locale) or approved.get(planner.replies.default_locale)
    if window.connector_type == "whatsapp" and template is not None:
        return _Form(template=template)
    instead = (
        "no approved survey template is configured (surveys.whatsapp_templates)"
        if window.connector_type == "whatsapp"
        else f"{window.connector_type} has no message templates"
    )
    return _Form(
        skip=(
            f"CSAT survey not sent: {window.connector_type} allows free messages only within "
            f"{window.hours:g} hours of the customer's last message, and {instead}"
        )
    )


async def _inside_window(
    conn: AsyncConnection, window: BoundWindow, solved: SolvedTicket, at: datetime
) -> bool:
    last = (
        await conn.execute(
            select(func.max(messages.c.received_at)).where(
                messages.c.customer_id == solved.ticket.customer_id,
                messages.c.connector_id == solved.connector_id,
                messages.c.direction == "in",
            )
        )
    ).scalar()
    return last is not None and at - last <= timedelta(hours=window.hours)


@dataclass(frozen=True)
class _Send:
    survey_id: int
    token: str
    locale: str
    form: _Form
    now: datetime
    send_at: datetime


async def _enqueue(
    conn: AsyncConnection, planner: SurveyPlanner, solved: SolvedTicket, send: _Send
) -> int:
    ticket, page = solved.ticket, planner.page_url(send.token)
    links = (
        [] if send.form.buttons else [{"rating": r, "url": f"{page}?rating={r}"} for r in RATINGS]
    )
    rendered = planner.replies.render(
        planner.config.template,
        send.locale,
        {
            "customer": {"name": solved.to.display_name},
            "ticket": {"ref": ticket_ref(ticket.id), "subject": ticket.subject},
            "links": links,
            "page_url": page,
            "buttons": send.form.buttons,
            "signature": planner.signature,
        },
    )
    choices = (
        tuple(Choice(LABELS[r], choice_payload(planner.secret, send.survey_id, r)) for r in RATINGS)
        if send.form.buttons
        else ()
    )
    template = send.form.template
    return await enqueue_outbound(
        conn,
        now=send.now,
        connector_id=solved.connector_id,
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        to=solved.to,
        kind=KIND,
        subject=rendered.subject or f"How did we do? [#{ticket_ref(ticket.id)}]",
        text=rendered.text,
        html=None,
        auto_submitted=True,
        language=rendered.locale,
        idempotency_key=f"csat-{send.survey_id}",
        template_message=(
            TemplateMessage(template.name, template.language, (page,)) if template else None
        ),
        send_at=send.send_at,
        choices=choices,
        unless_opted_out=solved.to.kind,
        # A ticket reopened before the survey's time is not asked about (yet).
        while_ticket=("solved", "closed"),
    )


async def survey_withdrawn(store: Store, zone: tzinfo, row: Any, reason: str) -> None:
    """The outbox cancelled a survey at its time (an opt-out, a reopened ticket): it was
    never sent, so it is marked so and its survey_sent is taken back out of the counts."""
    if row.kind != KIND:
        return
    async with store.write() as conn:
        survey = (
            await conn.execute(
                select(surveys).where(surveys.c.outbox_id == row.id, surveys.c.status == QUEUED)
            )
        ).first()
        if survey is None:
            return
        await conn.execute(
            update(surveys)
            .where(surveys.c.id == survey.id)
            .values(status=WITHDRAWN, note=f"not sent: {reason}"[:300])
        )
        ticket = (await conn.execute(select(tickets).where(tickets.c.id == survey.ticket_id))).one()
        sent = _sent(ticket, survey.send_at, survey.agent)
        await record(conn, [replace(sent, weight=-1)], zone)
