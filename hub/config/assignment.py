"""Assignment keys of the YAML: per team how tickets find an agent, per agent what they take.

Kept beside, not inside, the team and agent models so hub.assignment reads one small module:
`teams[].assign`, `teams[].reassign_after`, `teams[].calendar`, `agents.accounts[].capacity`
and `agents.accounts[].skills`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


def check_reassign_after(v: timedelta) -> timedelta:
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
