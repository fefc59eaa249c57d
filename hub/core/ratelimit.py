"""Token buckets: the outbox paces each connector's sends with one, and the web form and
the web chat limit senders (a client IP, a chat visitor) with one per key."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

MAX_KEYS = 10_000


class TokenBucket:
    """`per_minute` sustained, up to `burst` at once (by default a minute's worth)."""

    __slots__ = ("burst", "clock", "rate", "tokens", "updated")

    def __init__(
        self,
        per_minute: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst) if burst is not None else max(1.0, per_minute)
        self.tokens = self.burst
        self.clock = clock
        self.updated = clock()

    def wait_time(self) -> float:
        """0 when a token is there, else the seconds until one will be."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        """Spend a token; after waiting out `wait_time()` it is there, give or take a
        rounding error, which is why this never refuses."""
        self.tokens -= 1

    def give_back(self) -> None:
        """Undo a take() whose message was refused for another reason, or by another bucket."""
        self.tokens = min(self.burst, self.tokens + 1)


class TokenBuckets:
    """A `TokenBucket` for each key.

    Keeps the MAX_KEYS most recently seen keys; forgetting an idle one only gives it
    a full bucket again, which it would have had by now anyway unless it was very busy.
    """

    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.per_minute = per_minute
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, key: str) -> float:
        """0 when allowed (a token is spent), else the seconds until one will be."""
        bucket = self._buckets.pop(key, None) or TokenBucket(
            self.per_minute, self.burst, self.clock
        )
        wait = bucket.wait_time()
        if wait == 0:
            bucket.take()
        self._buckets[key] = bucket
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait

    def give_back(self, key: str) -> None:
        """Undo a take() whose message was refused for another reason, or by another bucket."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.give_back()

    def __len__(self) -> int:
        return len(self._buckets)
