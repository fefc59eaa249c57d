"""`retention:`: erasing customers after a period without activity (hub.privacy.retention)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RetentionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    # No message, purchase or profile change for this many days.
    inactive_days: int = Field(default=730, ge=30, le=36500)
    mode: Literal["delete", "anonymize"] = "anonymize"
    # How often the job looks (hours).
    every_hours: int = Field(default=24, ge=1, le=24 * 7)
