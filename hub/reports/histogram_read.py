"""Medians and p90s of a total (and per agent) from the durations' histogram
(metric_histogram), exact: the bucket sums say in which bucket each wanted rank falls and
how many values lie below it, then only the events inside those buckets are read and
ranked. A 90-day summary (or per-agent report) reads a few thousand values instead of
every duration of the range.

Used where the rollup answers (its days are the request's), on both databases: one row
per group and span holds every bucket's count (hub.store.bucket_counts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from sqlalchemy import func, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.events.spans import cover
from hub.reports.event_read import conditions, packed_values
from hub.reports.request import ReportRequest
from hub.reports.rollup_read import _selection
from hub.store.bucket_counts import SIZE, counts_total
from hub.store.schema import metric_events, metric_histogram

Quantiles = dict[str, tuple[float | None, float | None]]
_PS = (0.5, 0.9)


def _ranks(n: int) -> set[int]:
    """The ranks (0-based) percentile_cont interpolates between for the median and p90."""
    out: set[int] = set()
    for p in _PS:
        lo = int((n - 1) * p)
        out |= {lo, min(lo + 1, n - 1)}
    return out


def _targets(counts: np.ndarray) -> dict[int, tuple[int, int]]:
    """rank -> (its bucket, how many values lie in lower buckets), of bucket counts."""
    upto = np.cumsum(counts)
    n = int(upto[-1]) if len(upto) else 0
    out: dict[int, tuple[int, int]] = {}
    for rank in sorted(_ranks(n)) if n else []:
        b = int(np.searchsorted(upto, rank, side="right"))
        out[rank] = (b, int(upto[b] - counts[b]))
    return out


def _pick(n: int, at: Mapping[int, float]) -> tuple[float | None, float | None]:
    def one(p: float) -> float:
        h = (n - 1) * p
        lo = int(h)
        hi = min(lo + 1, n - 1)
        return at[lo] + (h - lo) * (at[hi] - at[lo])

    return one(0.5), one(0.9)


async def _counts(conn: AsyncConnection, req: ReportRequest, kind: str) -> dict[str, np.ndarray]:
    """group -> each bucket's count of durations over the request's days (read as the
    whole months, weeks and days that make them up: one row per group and span)."""
    h = metric_histogram.c
    where, group = _selection(req, metric_histogram)
    spans = cover(req.local_start_date(), req.local_end_date())
    parts = [
        select(group.label("g"), h.counts).where(
            h.kind == kind, h.basis == req.basis, h.span == s, h.day.in_(days), *where
        )
        for s, days in spans.items()
        if days
    ]
    if not parts:
        return {}
    rows: dict[str, list[bytes]] = {}
    # As the driver gives them (the rows of a group summed at once).
    for g, counts in (await conn.execute(union_all(*parts))).cursor.fetchall():
        rows.setdefault(str(g), []).append(counts)
    return {g: counts_total(stored) for g, stored in rows.items()}


def histogram_serves(req: ReportRequest) -> bool:
    """Whether the histogram holds the request's durations: the total, or per agent, of a
    team scope (it keeps no other dimension), on days the rollup answers for."""
    return req.group in (None, "agent") and all(k == "team" for k in req.filters)


async def histogram_quantiles(
    conn: AsyncConnection, req: ReportRequest, kind: str
) -> Quantiles | None:
    """group -> (median, p90) of one kind's durations ('' -> the total's), as
    event_read.quantiles computes them; None when the histogram and the events disagree
    (events written around hub.events.metrics.record, or removed): the caller reads every
    value."""
    counts = await _counts(conn, replace(req, group=None), kind)
    if req.group is not None:
        counts |= {g: c for g, c in (await _counts(conn, req, kind)).items() if g}
    targets = {g: _targets(c) for g, c in counts.items()}
    wanted = sorted({b for t in targets.values() for b, _ in t.values()})
    if not wanted:
        return {}
    runs = await _inside(conn, req, kind, wanted)
    out: Quantiles = {}
    for g, ranks in targets.items():
        at: dict[int, float] = {}
        for rank, (b, below) in ranks.items():
            inside = runs.get((g, b), _NONE)
            if len(inside) != counts[g][b]:
                return None
            at[rank] = float(inside[rank - below])
        if at:
            out[g] = _pick(int(counts[g].sum()), at)
    return out


# (group, bucket) -> its durations, sorted ('' for the total's: every one in the bucket).
Runs = dict[tuple[str, int], np.ndarray]
_NONE = np.zeros(0)


async def _inside(
    conn: AsyncConnection, req: ReportRequest, kind: str, buckets: Sequence[int]
) -> Runs:
    """The durations in `buckets`, read off the (kind, bucket, occurred_at, seconds,
    team_id, agent) index (or the business time's): the range's in those buckets only."""
    e = metric_events.c
    business = req.basis == "business"
    value = e.business_seconds if business else e.seconds
    bucket = e.business_bucket if business else e.bucket
    agent = e.agent if req.group == "agent" else literal_column("''")
    where = [e.kind == kind, value.is_not(None), bucket.in_(buckets), *conditions(req, req.start)]
    if conn.dialect.name == "postgresql":
        # Each agent's durations in a bucket as packed doubles (as event_read gathers
        # them): a few hundred rows, not a Python object per duration.
        packed = packed_values(func.float8send(value))
        by = [agent, bucket] if req.group == "agent" else [bucket]
        stmt = select(agent, bucket, packed).where(*where).group_by(*by)
        rows = (await conn.execute(stmt)).cursor.fetchall()
        parts = [(who, int(b), np.frombuffer(p, dtype=">f8")) for who, b, p in rows if p]
    else:
        rows = (await conn.execute(select(agent, bucket, value).where(*where))).cursor.fetchall()
        parts = _split(rows)
    runs: Runs = {}
    totals: dict[int, list[np.ndarray]] = {}
    for who, b, values in parts:
        totals.setdefault(b, []).append(values)
        if who:
            runs[who, b] = np.sort(values)
    for b, chunks in totals.items():
        runs["", b] = np.sort(np.concatenate(chunks))
    return runs


def _split(rows: Sequence[Any]) -> list[tuple[Any, int, np.ndarray]]:
    """(agent, bucket, value) rows as (agent, bucket, its values), with numpy."""
    if not rows:
        return []
    agents, where, values = zip(*rows, strict=True)
    names = list(dict.fromkeys(agents))
    number = np.fromiter(map({a: i for i, a in enumerate(names)}.__getitem__, agents), np.int64)
    keys = number * SIZE + np.array(where, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    keys, ranked = keys[order], np.array(values, dtype=np.float64)[order]
    cuts = np.flatnonzero(np.diff(keys)) + 1
    starts = np.concatenate(([0], cuts))
    return [
        (names[int(keys[at]) // SIZE], int(keys[at]) % SIZE, chunk)
        for at, chunk in zip(starts, np.split(ranked, cuts), strict=True)
    ]
