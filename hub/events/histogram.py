"""The fixed buckets of the durations' histogram (metric_histogram): log-spaced, PER
buckets per factor of eight from a second to 48 days (each at most a quarter, mostly under
a tenth, of its values wide). A bucket only has to grow with the value: a quantile's rank
is found in the bucket sums, then exact among the values of its bucket, which a report
reads by their range of seconds."""

from __future__ import annotations

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
