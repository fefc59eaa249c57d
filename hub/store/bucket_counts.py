"""A histogram row's counts (metric_histogram.counts): how many durations fell in each of
the buckets of hub.store.duration_buckets, all of them in one value, so that a report reads
one row per agent and span, not one per bucket (a 90-day per-agent report: ~500 rows, not
~20,000). The value is SIZE big-endian 32-bit integers in a BLOB (bytea on PostgreSQL), read
by numpy as it is: PostgreSQL's own integer[] cost a report ~20 µs a row to send (its
elements are sent one function call each), a bytea is copied.

A write adds to one bucket of a row in the database (`counts_plus`), as the rollup's
upserts add their sums: PostgreSQL with its byte functions, SQLite with a function of ours
that every connection of the hub registers (`register_sqlite`)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import LargeBinary, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from hub.store.duration_buckets import TOP

# Buckets 0..TOP.
SIZE = TOP + 1
_INT = struct.Struct(">i")
_DTYPE = ">i4"
_SQLITE_PLUS = "hub_bucket_plus"


class BucketCounts(TypeDecorator[np.ndarray]):
    """SIZE counts: taken as any sequence of integers, given back as an int64 array."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        if len(value) != SIZE:
            raise ValueError(f"bucket counts hold {SIZE} numbers, not {len(value)}")
        return np.asarray(value, dtype=_DTYPE).tobytes()

    def process_result_value(self, value: Any, dialect: Dialect) -> np.ndarray | None:
        return None if value is None else counts_array(value)


def counts_array(stored: bytes) -> np.ndarray:
    """The counts as stored, as an int64 array."""
    return counts_total([stored])


def counts_total(stored: Sequence[bytes]) -> np.ndarray:
    """The sum of counts as stored (rows read as the driver gives them), as an int64
    array: one numpy sum, not one array a row."""
    joined = b"".join(stored)
    if len(joined) != len(stored) * SIZE * _INT.size:
        raise ValueError(f"bucket counts of {len(joined)} bytes in {len(stored)} rows")
    rows = np.frombuffer(joined, dtype=_DTYPE).reshape(-1, SIZE)
    return rows.sum(axis=0, dtype=np.int64)


class _Plus(FunctionElement[Any]):
    """counts with n added to bucket b: (counts, b, n)."""

    type = BucketCounts()
    inherit_cache = True
    name = "bucket_plus"


@compiles(_Plus)
def _plus_pg(element: _Plus, compiler: Any, **kw: Any) -> str:
    counts, b, n = (compiler.process(c, **kw) for c in element.clauses)
    at = f"4 * {b} + 1"
    # The four bytes at the bucket as a number: through their hex digits as bit(32).
    now = f"('x' || encode(substring({counts} FROM {at} FOR 4), 'hex'))::bit(32)::int4"
    return f"overlay({counts} PLACING int4send({now} + {n}) FROM {at} FOR 4)"


@compiles(_Plus, "sqlite")
def _plus_sqlite(element: _Plus, compiler: Any, **kw: Any) -> str:
    return f"{_SQLITE_PLUS}({compiler.process(element.clauses, **kw)})"


class _Zeros(FunctionElement[Any]):
    type = BucketCounts()
    inherit_cache = True
    name = "bucket_zeros"


@compiles(_Zeros)
def _zeros_pg(element: _Zeros, compiler: Any, **kw: Any) -> str:
    return f"decode(repeat('00', {SIZE * _INT.size}), 'hex')"


@compiles(_Zeros, "sqlite")
def _zeros_sqlite(element: _Zeros, compiler: Any, **kw: Any) -> str:
    return f"zeroblob({SIZE * _INT.size})"


def counts_with(bucket: ColumnElement[int], n: ColumnElement[int]) -> ColumnElement[Any]:
    """A new row's counts: n in `bucket`, zero elsewhere."""
    return _Plus(_Zeros(), bucket, n)


def counts_plus(
    counts: ColumnElement[Any], bucket: ColumnElement[int], n: ColumnElement[int]
) -> ColumnElement[Any]:
    """`counts` with n more in `bucket`."""
    return _Plus(counts, bucket, n)


def _sqlite_plus(counts: bytes, bucket: int, n: int) -> bytes:
    if not 0 <= bucket < SIZE or len(counts) != SIZE * _INT.size:
        raise ValueError(f"no bucket {bucket} in counts of {len(counts)} bytes")
    out = bytearray(counts)
    at = bucket * _INT.size
    _INT.pack_into(out, at, _INT.unpack_from(out, at)[0] + n)
    return bytes(out)


def register_sqlite(dbapi_connection: Any) -> None:
    """Gives an SQLite connection the function `counts_plus` compiles to."""
    dbapi_connection.create_function(_SQLITE_PLUS, 3, _sqlite_plus, deterministic=True)
