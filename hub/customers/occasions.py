"""The indexed month/day columns that go with a customer's occasion dates."""

from __future__ import annotations

from datetime import date
from typing import Any


def month_day(d: date | None) -> int | None:
    return None if d is None else d.month * 100 + d.day


def md_columns(values: dict[str, Any]) -> dict[str, Any]:
    """`values` for a customers INSERT/UPDATE, plus the md columns of any date it sets."""
    out = dict(values)
    for name in ("birthday", "anniversary"):
        if name in values:
            out[f"{name}_md"] = month_day(values[name])
    return out
