"""Metric events kept as counts instead of rows: the kinds reports only ever count, with no
duration or value of their own (messages in and out, hub.events.metrics.COUNTED).

A web form message wrote three metric event rows, two of them messages; each row costs
the ingest its insert into a table with several indexes. These events become, per batch,
an upsert into `metric_counts` (per UTC quarter hour and dimensions: a batch of a hundred
messages adds to a few rows) and an update of their tickets' own counters (the ticket
export's per-ticket figures). The daily rollup hears of them as of every other event.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.adding import adding_upsert
from hub.store.many import Many
from hub.store.schema import metric_counts, tickets

if TYPE_CHECKING:
    from hub.events.metrics import MetricEvent

# A UTC quarter hour: every zone's offset is a whole number of them.
SLOT_SECONDS = 900


def slot_of(at: datetime) -> int:
    """The UTC quarter hour `at` falls in, as a number (seconds since the epoch // 900)."""
    return math.floor(at.timestamp()) // SLOT_SECONDS


def first_slot_from(at: datetime) -> int:
    """The first quarter hour that starts at or after `at`: a range from `at` holds the
    quarter hours from this one on (all of them, `at` being a local midnight)."""
    return math.ceil(at.timestamp() / SLOT_SECONDS)


def tags_text(tags: Iterable[str]) -> str:
    """Tags as the counts hold them: a JSON list, sorted, each once (as JSON writes the
    events' lists, so one LIKE finds a tag in either)."""
    return json.dumps(sorted({t for t in tags if t}))


def dims_key(team: str, channel: str, agent: str, priority: str, tags: str) -> str:
    """A fixed-size key for the dimensions, however long the tags."""
    joined = "\x1f".join((team, channel, agent, priority, tags))
    return hashlib.blake2b(joined.encode(), digest_size=16).hexdigest()


def count_rows(events: Iterable[MetricEvent]) -> list[dict[str, Any]]:
    """The counts the events add, summed per key and sorted by it (two writers take their
    row locks in one order)."""
    sums: dict[tuple[Any, ...], int] = {}
    slots: dict[datetime, int] = {}
    texts: dict[tuple[str, ...], str] = {}
    for e in events:
        at = e.occurred_at
        slot = slots.get(at)
        if slot is None:
            slot = slots[at] = slot_of(at)
        text = texts.get(e.tags)
        if text is None:
            text = texts[e.tags] = tags_text(e.tags)
        key = (e.kind, slot, e.team or "", e.channel or "", e.agent or "", e.priority or "", text)
        sums[key] = sums.get(key, 0) + e.weight
    rows = []
    for (kind, slot, team, channel, agent, priority, text), n in sums.items():
        rows.append(
            {
                "kind": kind,
                "slot": slot,
                "dims": dims_key(team, channel, agent, priority, text),
                "team_id": team,
                "channel": channel,
                "agent": agent,
                "priority": priority,
                "tags": text,
                "n": n,
            }
        )
    rows.sort(key=lambda r: (r["kind"], r["slot"], r["dims"]))
    return rows


def ticket_rows(events: Iterable[MetricEvent], columns: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each ticket's counters to add: `columns` names the ticket column of each kind."""
    adds: dict[int, dict[str, int]] = {}
    for e in events:
        if e.ticket_id is not None:
            add = adds.setdefault(e.ticket_id, dict.fromkeys(columns.values(), 0))
            add[columns[e.kind]] += e.weight
    return [{"ticket": t} | {f"add_{k}": v for k, v in adds[t].items()} for t in sorted(adds)]


async def add_counts(
    conn: AsyncConnection, events: Sequence[MetricEvent], columns: Mapping[str, str]
) -> None:
    """Add the events to the counts and to their tickets' counters, in the caller's
    transaction."""
    if not events:
        return
    await adding_upsert(conn.dialect.name, metric_counts, ("n",)).run(conn, count_rows(events))
    rows = ticket_rows(events, columns)
    if rows:
        await _ticket_update(tuple(sorted(set(columns.values())))).run(conn, rows)


_UPDATES: dict[tuple[str, ...], Many] = {}


def _ticket_update(names: tuple[str, ...]) -> Many:
    made = _UPDATES.get(names)
    if made is None:
        made = _UPDATES[names] = Many(
            update(tickets)
            .where(tickets.c.id == bindparam("ticket"))
            .values({name: tickets.c[name] + bindparam(f"add_{name}") for name in names}),
            deferred=True,
        )
    return made
