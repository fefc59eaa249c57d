"""Lock-out after repeated failed log-ins, per account and per client address.

Kept in memory and bounded: the least recently failing keys are forgotten first, so a
flood of made-up usernames or addresses cannot grow it without limit. Each hub process
counts on its own; with N processes an attacker gets at most N times the allowance.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures: int,
        window_seconds: float,
        lock_seconds: float,
        max_keys: int = 10_000,
    ) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self.lock = lock_seconds
        self.max_keys = max_keys
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def locked(self, key: str, now: float) -> bool:
        record = self._records.get(key)
        return record is not None and record.locked_until > now

    def failure(self, key: str, now: float) -> None:
        record = self._records.pop(key, None) or _Record()
        record.failures = [t for t in record.failures if t > now - self.window] + [now]
        if len(record.failures) >= self.max_failures:
            record.locked_until = now + self.lock
            record.failures = []
        self._records[key] = record
        while len(self._records) > self.max_keys:
            self._records.popitem(last=False)

    def success(self, key: str) -> None:
        self._records.pop(key, None)

    def __len__(self) -> int:
        return len(self._records)
