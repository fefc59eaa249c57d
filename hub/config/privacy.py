"""`privacy:`: where the erasure ledger is kept, and retention (hub.privacy)."""

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


class PrivacyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The erasure ledger is also appended to this file, outside the database: a restored
    # backup of the database holds an older ledger, and this file tells what was erased
    # since. Keep it where the database backups are not (it names no one: keyed hashes).
    ledger_file: str = "data/erasure-ledger.jsonl"
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    # Webhook deliveries done with, their attempts, and outgoing events every consumer
    # has finished with are deleted once this old (hub.privacy.event_log).
    integration_log_days: int = Field(default=30, ge=1, le=3650)
