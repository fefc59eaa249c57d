"""Recording a survey's answer: from its link's page (a POST) or a button pressed on the
channel. One answer per survey (a unique constraint); it may be changed within the change
window, counted from when the survey was due to be sent, and not after."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.metrics import SURVEY_ANSWERED, MetricEvent, record
from hub.events.outgoing import CSAT_ANSWERED, OutgoingEvent, emit
from hub.store import Store
from hub.store.schema import survey_responses, surveys, tickets
from hub.surveys.sending import QUEUED
from hub.surveys.tokens import RATINGS, read_choice, token_hash, well_formed
from hub.tickets.records import ticket_ref

log = logging.getLogger("hub.surveys")

MAX_COMMENT = 2000


class SurveyClosed(ValueError):
    """The change window is over: the answer stays as it was (or absent)."""


@dataclass(frozen=True)
class Survey:
    """What the page and the recorder need of one survey: no customer data."""

    id: int
    ticket_id: int
    customer_id: int
    language: str
    agent: str | None
    team_id: str
    send_at: datetime
    rating: int | None
    comment: str | None
    # The ticket's, for the metric events (reports group by them).
    ticket_channel: str
    priority: str
    tags: list[str]
    answered_at: datetime | None

    def closes_at(self, window_days: int) -> datetime:
        return self.send_at + timedelta(days=window_days)


@dataclass(frozen=True)
class AnswerRules:
    """How long answers may be given or changed, and the reporting day's zone (the metric
    rollup's, hub.events.metrics)."""

    window_days: int
    zone: tzinfo


@dataclass(frozen=True)
class Answer:
    rating: int
    comment: str | None
    via: str  # link | button


def _query() -> Any:
    return select(
        surveys.c.id,
        surveys.c.ticket_id,
        surveys.c.customer_id,
        surveys.c.language,
        surveys.c.agent,
        surveys.c.team_id,
        surveys.c.send_at,
        survey_responses.c.rating,
        survey_responses.c.comment,
        tickets.c.channel,
        tickets.c.priority,
        tickets.c.tags,
        survey_responses.c.answered_at,
    ).select_from(
        surveys.join(tickets, tickets.c.id == surveys.c.ticket_id).outerjoin(
            survey_responses, survey_responses.c.survey_id == surveys.c.id
        )
    )


def _survey(row: Any) -> Survey | None:
    return None if row is None else Survey(*row)


async def surveys_of_ticket(conn: AsyncConnection, ticket_id: int) -> list[Survey]:
    """A ticket's surveys, one per solve cycle, oldest first (the demo history answers them)."""
    stmt = _query().where(surveys.c.ticket_id == ticket_id).order_by(surveys.c.id)
    rows = await conn.execute(stmt)
    return [Survey(*row) for row in rows]


async def survey_by_token(conn: AsyncConnection, token: str) -> Survey | None:
    """The survey a link's token opens; None for an unknown or malformed one."""
    if not well_formed(token):
        return None
    row = (
        await conn.execute(
            _query().where(surveys.c.token_hash == token_hash(token), surveys.c.status == QUEUED)
        )
    ).first()
    return _survey(row)


async def survey_by_choice(conn: AsyncConnection, secret: bytes, payload: str) -> Survey | None:
    """The survey a pressed button answers; None when the payload is not ours."""
    pressed = read_choice(secret, payload)
    if pressed is None:
        return None
    row = (
        await conn.execute(
            _query().where(surveys.c.id == pressed.survey_id, surveys.c.status == QUEUED)
        )
    ).first()
    return _survey(row)


def clean_comment(raw: str | None) -> str | None:
    if raw is None:
        return None
    # Control characters other than line breaks and tabs have no place in a comment.
    text = "".join(ch for ch in raw if ch >= " " or ch in "\n\t").strip()
    return text[:MAX_COMMENT] or None


async def record_answer(
    store: Store,
    conn: AsyncConnection,
    survey: Survey,
    answer: Answer,
    *,
    now: datetime,
    rules: AnswerRules,
) -> bool:
    """Record or change the answer; True when it changed an earlier one (the same answer
    again changes nothing and tells no one). Raises SurveyClosed after the window. Emits
    csat.answered in the same transaction."""
    if answer.rating not in RATINGS:
        raise ValueError("a rating is a whole number from 1 to 5")
    if now > survey.closes_at(rules.window_days):
        raise SurveyClosed(
            f"this survey closed on {survey.closes_at(rules.window_days):%Y-%m-%d}; "
            "answers can no longer be given or changed"
        )
    changed = survey.rating is not None
    values: dict[str, Any] = {"rating": answer.rating, "via": answer.via, "updated_at": now}
    if answer.comment is not None or answer.via == "link":
        # The page's form always carries the comment box: an emptied box removes it. A
        # button press says nothing of the comment, so it keeps it.
        values["comment"] = answer.comment
    if changed and (answer.rating, values.get("comment", survey.comment)) == (
        survey.rating,
        survey.comment,
    ):
        # The same answer again (a redelivered press, a form sent twice): nothing to tell.
        return False
    stmt = store.insert(survey_responses).values(
        survey_id=survey.id,
        ticket_id=survey.ticket_id,
        answered_at=now,
        changes=0,
        **{"comment": None, **values},
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["survey_id"],
            set_={**values, "changes": survey_responses.c.changes + 1},
        )
    )
    await emit(
        conn,
        [
            OutgoingEvent(
                CSAT_ANSWERED,
                {
                    "survey_id": survey.id,
                    "ticket": ticket_ref(survey.ticket_id),
                    "rating": answer.rating,
                    "comment": values.get("comment", survey.comment),
                    "agent": survey.agent,
                    "team": survey.team_id,
                    "via": answer.via,
                    "changed": changed,
                },
                customer_id=survey.customer_id,
                ticket_id=survey.ticket_id,
            )
        ],
        now,
    )
    if not changed:
        await record(conn, [_answered(survey, answer.rating, now)], rules.zone)
    else:
        # Append-only: the old rating is taken back (weight -1) and the new one counted, both
        # on the day of the first answer, so the survey counts once, with its latest rating.
        first = survey.answered_at or now
        old = _answered(survey, survey.rating or answer.rating, first)
        await record(
            conn,
            [replace(old, weight=-1), _answered(survey, answer.rating, first)],
            rules.zone,
        )
    log.info("survey answered survey=%s rating=%s via=%s", survey.id, answer.rating, answer.via)
    return changed


def _answered(survey: Survey, rating: int, now: datetime) -> MetricEvent:
    """Credited to the agent and team captured when the survey was queued."""
    return MetricEvent(
        SURVEY_ANSWERED,
        now,
        ticket_id=survey.ticket_id,
        customer_id=survey.customer_id,
        team=survey.team_id,
        channel=survey.ticket_channel,
        agent=survey.agent,
        priority=survey.priority,
        tags=tuple(survey.tags or ()),
        value=rating,
    )


async def answer_by_button(
    store: Store, secret: bytes, payload: str, *, now: datetime, rules: AnswerRules
) -> Survey | None:
    """Record a pressed rating button in a transaction of its own; the survey it answered,
    or None when the payload is not ours or the survey has closed (logged, not raised:
    the customer pressed an old button, nothing to retry)."""
    async with store.write() as conn:
        survey = await survey_by_choice(conn, secret, payload)
        if survey is None:
            log.warning("survey button refused: not a payload we signed")
            return None
        pressed = read_choice(secret, payload)
        assert pressed is not None
        try:
            await record_answer(
                store,
                conn,
                survey,
                Answer(pressed.rating, None, "button"),
                now=now,
                rules=rules,
            )
        except SurveyClosed:
            log.info("survey button after the window survey=%s", survey.id)
            return None
    return survey
