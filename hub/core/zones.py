"""IANA time zone names, checked the one way config sections check them."""

from __future__ import annotations

import zoneinfo


def known_zone(name: str) -> str:
    """`name` if it is an IANA zone; ValueError naming it otherwise."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {name!r} (e.g. 'Asia/Dhaka')") from None
    return name
