"""The `outbox:` and `ingest:` sections: how the send queue retries and claims, and how
many messages one ingest group commit takes. (hub.config.loader re-exports both.)"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OutboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=8, ge=1, le=100)
    base_delay_seconds: float = Field(default=5.0, gt=0)
    max_delay_seconds: float = Field(default=3600.0, gt=0)
    lease_seconds: float = Field(default=120.0, gt=0)
    poll_seconds: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=20, ge=1, le=1000)
    # On stop, how long a send under way may take to finish and be recorded.
    drain_seconds: float = Field(default=10.0, ge=0, le=300)


class IngestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_batch: int = Field(default=256, ge=1, le=10000)
