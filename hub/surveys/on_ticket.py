"""A ticket's satisfaction surveys as the inbox and the API show them: each solve cycle's
survey (queued, or skipped and why), whom it credits, and the customer's answer if given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.schema import survey_responses, surveys


@dataclass(frozen=True)
class TicketSurvey:
    id: int
    status: str  # queued | skipped
    note: str | None
    channel: str
    # Credited with the rating: as they were when the survey was queued.
    agent: str | None
    team_id: str
    send_at: datetime | None
    created_at: datetime
    rating: int | None
    comment: str | None
    via: str | None  # link | button
    answered_at: datetime | None
    changes: int

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(vars(self))
        for k, v in out.items():
            if isinstance(v, datetime):
                out[k] = v.isoformat()
        return out


async def ticket_surveys(conn: AsyncConnection, ticket_id: int) -> list[TicketSurvey]:
    """Oldest first: one per solve cycle."""
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
            r.changes,
        )
        .select_from(surveys.outerjoin(survey_responses, r.survey_id == s.id))
        .where(s.ticket_id == ticket_id)
        .order_by(s.id)
    )
    return [TicketSurvey(**{**row._mapping, "changes": row.changes or 0}) for row in rows]
