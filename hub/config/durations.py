"""Durations as operators write them: `45m`, `8h`, `2d`, `1h30m`.

One parser for every place a length of time is typed: SLA targets in the YAML (the
`Duration` type) and `hub sla due --duration`. A day is 24 hours of whatever clock the
duration is counted on: `2d` of business time is 48 open hours, not two working days, so a
target means the same thing on every calendar.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

# Far above any service level, far below what would make business-time arithmetic search
# for centuries on a sparse calendar.
MAX_DURATION = timedelta(days=3650)

_UNITS = {
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
}
_FORM = re.compile(r"(?:(\d{1,7})d)?(?:(\d{1,8})h)?(?:(\d{1,9})m)?(?:(\d{1,10})s)?")
_EXAMPLES = "e.g. 45m, 8h, 2d or 1h30m (d = 24 hours, h, m, s; largest unit first)"


class DurationError(ValueError):
    """The text is not a duration; the message says what one looks like."""


def parse_duration(text: str) -> timedelta:
    """`1h30m` -> timedelta(hours=1, minutes=30). Zero (`0m`) is allowed; signs are not."""
    if not isinstance(text, str):
        raise DurationError(f"a duration is text with a unit, {_EXAMPLES}; got {text!r}")
    compact = text.strip().lower()
    match = _FORM.fullmatch(compact)
    if not compact or match is None or not any(match.groups()):
        raise DurationError(f"not a duration: {text!r} ({_EXAMPLES})")
    total = timedelta()
    for amount, unit in zip(match.groups(), _UNITS.values(), strict=True):
        if amount is not None:
            total += int(amount) * unit
    if total > MAX_DURATION:
        raise DurationError(f"{text!r} is longer than the limit of {MAX_DURATION.days} days")
    return total


def format_duration(d: timedelta) -> str:
    """The shortest text parse_duration reads back as `d` (whole seconds)."""
    seconds = int(d.total_seconds())
    if seconds == 0:
        return "0m"
    out = ""
    for unit, size in _UNITS.items():
        n, seconds = divmod(seconds, int(size.total_seconds()))
        if n:
            out += f"{n}{unit}"
    return out


def _from_yaml(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool | int | float):
        # A bare number has no unit: minutes? hours? Refuse rather than guess.
        raise DurationError(f"{value!r} has no unit ({_EXAMPLES})")
    return parse_duration(value)  # type: ignore[arg-type]


Duration = Annotated[
    timedelta,
    BeforeValidator(_from_yaml),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["45m", "8h", "1h30m", "2d"]}),
]
"""A config field holding a duration written as text (`target: 1h30m`)."""
