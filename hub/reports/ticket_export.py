"""One row per ticket with all its metrics (tickets opened in the range, newest first):
what a spreadsheet or a BI tool joins on, read from the events by ticket and the ticket's
own message counters."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.metrics import (
    FIRST_RESPONSE,
    REPLY,
    SLA_ACHIEVED,
    SLA_BREACHED,
    SURVEY_ANSWERED,
    TICKET_REOPENED,
    TICKET_SOLVED,
)
from hub.reports.event_read import scope
from hub.reports.output import cell, safe
from hub.reports.request import BadReport, ReportRequest
from hub.store import Store
from hub.store.schema import metric_events, tickets
from hub.tickets.records import ticket_ref

TICKET_FIELDS = (
    "ticket",
    "created_at",
    "status",
    "team",
    "channel",
    "priority",
    "tags",
    "first_responder",
    "messages_in",
    "messages_out",
    "replies",
    "first_response_s",
    "first_response_business_s",
    "next_response_mean_s",
    "resolution_s",
    "resolution_business_s",
    "solves",
    "reopens",
    "sla_achieved",
    "sla_breached",
    "csat_rating",
)
_CHUNK = 1000
e = metric_events.c


def _ticket_filters(req: ReportRequest) -> list[ColumnElement[bool]]:
    t = tickets.c
    if "agent" in req.filters:
        raise BadReport("the per-ticket export filters by team, channel, tag and priority")
    columns = {"team": t.team_id, "channel": t.channel, "priority": t.priority}
    return [
        t.created_at >= req.start,
        t.created_at < req.end,
        *scope(req, columns, cast(t.tags, Text)),
    ]


async def ticket_rows(store: Store, req: ReportRequest, limit: int) -> list[dict[str, Any]]:
    async with store.read() as conn:
        found = (
            await conn.execute(
                select(tickets)
                .where(*_ticket_filters(req))
                .order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
                .limit(limit)
            )
        ).all()
        rows: list[dict[str, Any]] = []
        for i in range(0, len(found), _CHUNK):
            chunk = found[i : i + _CHUNK]
            rows.extend(await _with_metrics(conn, chunk, req.basis == "business"))
    return rows


async def _with_metrics(
    conn: AsyncConnection, chunk: list[Any], business: bool
) -> Iterable[dict[str, Any]]:
    ids = [t.id for t in chunk]
    per: dict[int, dict[str, Any]] = {i: {} for i in ids}
    value = e.business_seconds if business else e.seconds
    for tid, kind, n, measured, total, biz, agent in await conn.execute(
        select(
            e.ticket_id,
            e.kind,
            func.sum(e.weight),
            func.count(value),
            func.sum(e.seconds),
            func.sum(e.business_seconds),
            func.max(e.agent),
        )
        .where(e.ticket_id.in_(ids))
        .group_by(e.ticket_id, e.kind)
    ):
        per[tid][kind] = (n, measured, total, biz, agent)
    ratings: dict[int, int] = {}
    for tid, rating in await conn.execute(
        select(e.ticket_id, e.value)
        .where(e.ticket_id.in_(ids), e.kind == SURVEY_ANSWERED, e.weight > 0)
        .order_by(e.occurred_at, e.id)
    ):
        ratings[tid] = rating  # the latest answer wins
    return [_row(t, per[t.id], ratings.get(t.id)) for t in chunk]


def _row(t: Any, kinds: dict[str, Any], rating: int | None) -> dict[str, Any]:
    def n(kind: str) -> int:
        return int(kinds[kind][0]) if kind in kinds else 0

    def total(kind: str, index: int) -> float | None:
        got = kinds.get(kind)
        return None if got is None or got[index] is None else round(float(got[index]), 1)

    replies = kinds.get(REPLY)
    next_mean = (
        round(float(replies[2]) / replies[1], 1) if replies and replies[1] and replies[2] else None
    )
    first = kinds.get(FIRST_RESPONSE)
    return {
        "ticket": ticket_ref(t.id),
        "created_at": t.created_at.isoformat(),
        "status": t.status,
        "team": t.team_id,
        "channel": t.channel,
        "priority": t.priority,
        "tags": " ".join(t.tags or []),
        "first_responder": first[4] if first else None,
        # Counted on the ticket (hub.events.counts), not kept as events.
        "messages_in": t.messages_in,
        "messages_out": t.messages_out,
        "replies": n(FIRST_RESPONSE) + n(REPLY),
        "first_response_s": total(FIRST_RESPONSE, 2),
        "first_response_business_s": total(FIRST_RESPONSE, 3),
        "next_response_mean_s": next_mean,
        # Every cycle's time to its solve, added up: the time the ticket was open.
        "resolution_s": total(TICKET_SOLVED, 2),
        "resolution_business_s": total(TICKET_SOLVED, 3),
        "solves": n(TICKET_SOLVED),
        "reopens": n(TICKET_REOPENED),
        "sla_achieved": n(SLA_ACHIEVED),
        "sla_breached": n(SLA_BREACHED),
        "csat_rating": rating,
    }


def tickets_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TICKET_FIELDS)
    for row in rows:
        writer.writerow(
            [safe(v) if isinstance(v, str) else cell(v) for v in (row[k] for k in TICKET_FIELDS)]
        )
    return out.getvalue()
