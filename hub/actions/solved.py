"""What follows a ticket's solve: its CSAT survey (hub.surveys), queued in the transaction of
the change, to wherever an agent's reply to the customer would go."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.actions.measure import Measure
from hub.actions.notes import system_note
from hub.actions.recipient import recipient
from hub.actions.ticket_status import ActionRefused
from hub.channels.directory import ReplyRoute
from hub.sla.clocks import NO_CLOCKS, SlaClocks
from hub.store import Store
from hub.store.schema import messages
from hub.surveys.sending import SKIPPED, SolvedTicket, SurveyOutcome, SurveyPlanner, queue_survey

SOLVED = "solved"


@dataclass(frozen=True)
class OnSolve:
    """The survey planner with the routes a survey follows (hub.assembly builds it)."""

    planner: SurveyPlanner
    routes: Mapping[str, ReplyRoute]
    kinds: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class AfterChange:
    """What an agent's change sets off besides itself: its metric events (hub.actions.measure),
    its SLA clocks and, on a solve, the CSAT survey (None: none, as in tests that build the
    parts by hand). One clock for all: `measure.clock`."""

    measure: Measure
    on_solve: OnSolve | None = None
    # The SLA clocks the change moves (hub.sla.clocks); NO_CLOCKS: none.
    sla: SlaClocks = NO_CLOCKS


@dataclass(frozen=True)
class StatusMove:
    """A ticket's status change: its row before, the new status, when; and for a solving
    reply scheduled for later, when that reply goes (the survey must not go first)."""

    ticket: Any
    new_status: str | None
    at: datetime
    not_before: datetime | None = None


async def after_status_change(
    store: Store, conn: AsyncConnection, on_solve: OnSolve | None, move: StatusMove
) -> SurveyOutcome | None:
    """A survey when the ticket has just been solved."""
    ticket, new_status, now = move.ticket, move.new_status, move.at
    if on_solve is None or new_status != SOLVED or ticket.status == SOLVED:
        return None
    if not on_solve.planner.config.enabled:
        return None
    last_in = (
        await conn.execute(
            select(messages)
            .where(messages.c.ticket_id == ticket.id, messages.c.direction == "in")
            .order_by(messages.c.received_at.desc(), messages.c.id.desc())
            .limit(1)
        )
    ).first()
    route = on_solve.routes.get(last_in.connector_id) if last_in is not None else None
    if last_in is None or route is None:
        return SurveyOutcome("not_sent", "the customer cannot be answered on this channel")
    try:
        to = await recipient(
            conn, ticket, last_in, route, on_solve.kinds.get(route.connector_id, ())
        )
    except ActionRefused as exc:
        return SurveyOutcome("not_sent", str(exc))
    outcome = await queue_survey(
        store,
        conn,
        on_solve.planner,
        SolvedTicket(ticket, int(last_in.id), route.connector_id, to, move.not_before),
        now,
    )
    if outcome.status == SKIPPED:
        # Agents see why a solved ticket got no survey.
        await system_note(conn, ticket.id, outcome.reason, now)
    return outcome
