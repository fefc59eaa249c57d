"""`routing:`: rules that send a ticket to a team, first match wins, with a fallback."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.config.notify import EventKind

Priority = Literal["low", "normal", "high", "urgent"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleMatch(_Strict):
    channel: str | None = None
    connector: str | None = None
    subject: str | None = None
    body: str | None = None
    tags: list[str] = Field(default_factory=list)
    locale: str | None = None

    @field_validator("subject", "body")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return v


class RuleSet(_Strict):
    team: str
    priority: Priority | None = None
    tags: list[str] = Field(default_factory=list)


class Rule(_Strict):
    name: str
    match: RuleMatch = Field(default_factory=RuleMatch)
    set: RuleSet
    # Notification connectors (slack, teams) told when this rule's tickets open or escalate.
    notify: list[str] = Field(default_factory=list)
    notify_on: list[EventKind] = Field(default_factory=lambda: ["opened", "escalated"])


class RoutingConfig(_Strict):
    fallback_team: str
    rules: list[Rule] = Field(default_factory=list)
