"""Teams in the YAML, and the assignment keys: per team how tickets find an agent
(`teams[].assign`, `reassign_after`, `calendar`), per agent what they take
(`agents.accounts[].capacity` and `skills`, read by hub.config.agents).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.config.durations import Duration

AssignMode = Literal["manual", "round_robin", "least_loaded"]
DEFAULT_CAPACITY = 10


class Skills(BaseModel):
    """What an agent can take. A list left out means every value: an agent with no
    `languages` takes tickets in any language; `languages: []` takes none that has one."""

    model_config = ConfigDict(extra="forbid")
    # Language codes (`bn`, `en`): matched against the language of the customer's locale.
    languages: list[str] | None = Field(default=None, max_length=200)
    # Channel names (`email`, `webchat`, `whatsapp`, ...): the ticket's channel.
    channels: list[str] | None = Field(default=None, max_length=200)

    @field_validator("languages")
    @classmethod
    def _lower(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [language_of(x) for x in v]


def language_of(locale: str) -> str:
    """`bn_BD`, `bn-BD`, `BN` -> `bn`: skills name languages, customers carry locales."""
    return re.split(r"[-_@.]", locale.strip(), maxsplit=1)[0].lower()


class Team(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    name: str
    # Automatic assignment (hub.assignment): manual leaves tickets for agents to pick up.
    assign: AssignMode = "manual"
    # A ticket whose assignee is away or off this long goes to an available agent.
    reassign_after: Duration = timedelta(minutes=30)
    # Agents count as off outside this calendar (a name under `calendars:`).
    calendar: str | None = None

    @field_validator("reassign_after")
    @classmethod
    def _sensible(cls, v: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= v <= timedelta(days=30):
            raise ValueError("must be between 1m and 30d")
        return v


def assignment_cross_checks(
    teams: list[Any], calendar_names: set[str]
) -> list[tuple[tuple[Any, ...], str]]:
    """Problems as (key path, message) for the cross checks: a team's unknown calendar."""
    issues: list[tuple[tuple[Any, ...], str]] = []
    for i, team in enumerate(teams):
        if team.calendar is not None and team.calendar not in calendar_names:
            known = ", ".join(sorted(calendar_names)) or "none defined"
            issues.append(
                (("teams", i, "calendar"), f"no calendar {team.calendar!r} (calendars: {known})")
            )
    return issues
