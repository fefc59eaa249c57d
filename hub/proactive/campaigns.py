"""Campaign rules, pure: who is in a segment, and when each time zone's send is due.

A campaign goes out at `send_hour` on `send_date` in each customer's own zone (the same
DST-safe `send_instant` as greetings) and is due from that instant for `catch_up_hours`,
never later. The sweep (hub.proactive.campaign_sweep) does the I/O on top of these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from hub.config.campaigns import CampaignConfig, SegmentConfig
from hub.proactive.greetings import (
    MAX_UTC_OFFSET,
    MIN_UTC_OFFSET,
    UnknownTimeZone,
    load_zone,
    send_instant,
)

# A skipped wall time moves the send past the gap; a zone once skipped a whole day
# (Pacific/Apia, 2011), so allow a day beyond the offset bounds.
_GAP_MARGIN = timedelta(days=1)


def catch_up(campaign: CampaignConfig) -> timedelta:
    return timedelta(hours=campaign.catch_up_hours)


def send_at(campaign: CampaignConfig, timezone: str) -> datetime:
    """The UTC instant the campaign is sent to a customer in `timezone`."""
    return send_instant(campaign.send_date, campaign.send_hour, load_zone(timezone))


def may_be_due(campaign: CampaignConfig, now: datetime) -> bool:
    """False when no zone on Earth can be due at `now`: the sweep skips the campaign cheaply."""
    wall = datetime.combine(campaign.send_date, time(campaign.send_hour), UTC)
    earliest = wall - MAX_UTC_OFFSET
    latest = wall - MIN_UTC_OFFSET + _GAP_MARGIN
    return earliest <= now < latest + catch_up(campaign)


def due_zones(campaign: CampaignConfig, zones: Iterable[str], now: datetime) -> set[str]:
    """The zones whose send instant has come and whose catch-up window has not passed."""
    window = catch_up(campaign)
    out = set()
    for zone in zones:
        try:
            at = send_at(campaign, zone)
        except UnknownTimeZone:
            continue
        if at <= now < at + window:
            out.add(zone)
    return out


def locale_matches(wanted: str, locale: str) -> bool:
    """'bn' matches 'bn' and 'bn_BD' (or 'bn-BD'); 'bn_BD' matches only itself."""
    wanted = wanted.replace("-", "_").lower()
    have = locale.replace("-", "_").lower()
    return have == wanted or ("_" not in wanted and have.split("_")[0] == wanted)


def in_segment(
    segment: SegmentConfig, tags: Iterable[str], locale: str, address: Mapping[str, Any] | None
) -> bool:
    """The filters on the customer's own row; purchases and tickets are filtered in SQL."""
    if segment.tags and not set(segment.tags) <= set(tags or ()):
        return False
    if segment.locale and not locale_matches(segment.locale, locale or ""):
        return False
    if segment.country:
        country = (address or {}).get("country")
        if not isinstance(country, str) or country.upper() != segment.country:
            return False
    return True
