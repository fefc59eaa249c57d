"""The fixed buckets of the durations' histogram (metric_histogram): log-spaced, PER
buckets per factor of eight from a second to 48 days (each at most a quarter, mostly under
a tenth, of its values wide). A bucket only has to grow with the value: a quantile's rank
is found in the bucket sums, then exact among the values of its bucket, which a report
reads off the events' own bucket column (metric_events.bucket: the database computes it
with `bucket_sql`, the same number as `bucket_of`, so no writer can leave it out)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer, case, column, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

PER = 32
_TIERS = 7
# Tier t holds [upper / 8, upper) with upper = 16 * 8**t (the first tier from 1 s), in PER
# buckets of width upper / PER: a power of two, so value / width is exact and
# `lo <= value < hi` agrees with the bucket number to the last bit.
_UPPER = tuple(16.0 * 8.0**t for t in range(_TIERS))
# Everything from 2**22 seconds (48 days) on, infinity included.
TOP = 1 + _TIERS * PER


def bucket_of(seconds: float) -> int:
    """The bucket a duration falls in; never smaller for a larger value. Anything under a
    second (a clock's negative step too) is bucket 0."""
    if seconds < 1.0:
        return 0
    for t, upper in enumerate(_UPPER):
        if seconds < upper:
            return 1 + t * PER + int(seconds / (upper / PER))
    return TOP  # also NaN: not below any bound


def bucket_bounds(bucket: int) -> tuple[float | None, float | None]:
    """The values in `bucket`: lo <= value < hi, None for no bound."""
    if bucket <= 0:
        return None, 1.0
    if bucket >= TOP:
        return _UPPER[-1], None
    t, k = divmod(bucket - 1, PER)
    width = _UPPER[t] / PER
    return k * width, (k + 1) * width


class _Whole(FunctionElement[int]):
    """The whole part of a non-negative double, as an integer: PostgreSQL's CAST rounds, so
    it floors first; SQLite's CAST truncates (and its floor() is an optional extension)."""

    type = Integer()
    inherit_cache = True
    name = "whole"


@compiles(_Whole)
def _whole_default(element: _Whole, compiler: Any, **kw: Any) -> str:
    return f"CAST(floor({compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(_Whole, "sqlite")
def _whole_sqlite(element: _Whole, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"


def bucket_sql(name: str) -> ColumnElement[int]:
    """`bucket_of` of the column `name`, in SQL: the events' generated bucket columns. The
    widths are powers of two, so the division is exact in either database as in Python;
    NaN and infinity fall through every bound to TOP, as in `bucket_of`."""
    value = column(name, Float)
    whens: list[tuple[Any, Any]] = [(value < literal_column("1.0", Float), 0)]
    for t, upper in enumerate(_UPPER):
        width = literal_column(repr(upper / PER), Float)
        below = value < literal_column(repr(upper), Float)
        whens.append((below, 1 + t * PER + _Whole(value.op("/")(width))))
    return case(*whens, else_=TOP)
