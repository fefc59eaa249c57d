"""The `reports:` section: the time zone the daily rollup's days are counted in, and how
many rows a report or an export may hold."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.config.weekly_summary import WeeklySummaryConfig
from hub.core.zones import known_zone


class ReportsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The operator's reporting day (IANA name). Unset: hub.timezone. Changing it later
    # leaves the days already rolled up in the old zone; reports in another zone, or by
    # the hour, read the events instead of the rollup.
    timezone: str | None = None
    # The most tickets one per-ticket export lists (newest first).
    max_export_rows: int = Field(default=100_000, ge=1, le=10_000_000)
    # The longest range one report covers.
    max_days: int = Field(default=800, ge=1, le=5000)
    # The weekly summary emails (hub.config.weekly_summary).
    weekly: WeeklySummaryConfig = Field(default_factory=WeeklySummaryConfig)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        return None if v is None else known_zone(v)
