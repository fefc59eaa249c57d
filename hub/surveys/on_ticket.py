"""A ticket's satisfaction surveys as the inbox and the API show them: each solve cycle's
survey (queued, or skipped and why), whom it credits (the agent and team as they were when
it was queued), and the customer's answer if given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.schema import survey_responses, surveys


async def ticket_surveys(conn: AsyncConnection, ticket_id: int) -> Sequence[Any]:
    """Rows, oldest first (one per solve cycle); the answer's columns are NULL (and
    `changes` 0) while unanswered."""
    s, r = surveys.c, survey_responses.c
    rows = await conn.execute(
        select(
            s.id,
            s.status,
            s.note,
            s.channel,
            s.agent,
            s.team_id,
            s.send_at,
            s.created_at,
            r.rating,
            r.comment,
            r.via,
            r.answered_at,
            func.coalesce(r.changes, 0).label("changes"),
        )
        .select_from(surveys.outerjoin(survey_responses, r.survey_id == s.id))
        .where(s.ticket_id == ticket_id)
        .order_by(s.id)
    )
    return rows.all()
