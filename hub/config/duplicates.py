"""The `duplicates:` section: when duplicate customers are looked for, which pairs reach the
review queue, and whether exact matches merge on their own (hub.dedup)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DuplicatesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Pairs scoring at least this (0..1) are listed for review.
    review_threshold: float = Field(default=0.5, ge=0.05, le=1.0)
    # Exact matches (a shared normalized email, phone or channel id) with no conflicting
    # verified identity and no different birthday are merged without a person: off unless
    # set. Such a merge is recorded like any other and can be undone.
    auto_merge: bool = False
    # How often the scheduled sweep looks at every customer; 0: only on demand
    # (`hub customers duplicates`).
    sweep_minutes: int = Field(default=360, ge=0, le=7 * 24 * 60)
    # Blocks of more customers than this are skipped (a very common name on one day).
    max_block: int = Field(default=50, ge=2, le=500)

    @model_validator(mode="after")
    def _sweep_not_too_often(self) -> DuplicatesConfig:
        if 0 < self.sweep_minutes < 5:
            raise ValueError("sweep_minutes is 0 (off) or at least 5: a sweep reads every customer")
        return self
