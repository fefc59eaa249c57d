"""The `agents:` section of the operator's YAML: accounts, sessions, lock-out, canned responses."""

from __future__ import annotations

from typing import Any, Literal

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hub.config.assignment import DEFAULT_CAPACITY, Skills

# A lead works tickets as an agent does, and sees the reports of their teams.
Role = Literal["agent", "lead", "admin"]
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"

# Only to check template syntax at config load; rendering uses the hub's one environment.
_SYNTAX = ImmutableSandboxedEnvironment()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentAccount(_Strict):
    username: str = Field(pattern=USERNAME_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    role: Role = "agent"
    teams: list[str] = Field(default_factory=list)
    # An argon2 hash (`hub agents hash-password` prints one) or a password from ${ENV}:
    # a plain password is hashed at start and never stored as given.
    password_hash: SecretStr | None = None
    password: SecretStr | None = None
    # Automatic assignment: open tickets at once, and what the agent can take.
    capacity: int = Field(default=DEFAULT_CAPACITY, ge=0, le=10_000)
    skills: Skills = Field(default_factory=Skills)

    @field_validator("password_hash")
    @classmethod
    def _argon2(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("$argon2"):
            raise ValueError("must be an argon2 hash ($argon2id$...)")
        return v

    @field_validator("password")
    @classmethod
    def _long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 10:
            raise ValueError("passwords must be at least 10 characters")
        return v

    @model_validator(mode="after")
    def _one_secret(self) -> AgentAccount:
        if self.password is not None and self.password_hash is not None:
            raise ValueError("give password_hash or password, not both")
        return self


class CannedResponseConfig(_Strict):
    name: str = Field(min_length=1, max_length=100)
    # A Jinja2 template: {{ customer.name }}, {{ ticket.ref }}, {{ agent.name }}, ...
    body: str = Field(min_length=1, max_length=20_000)
    # None: offered to every team.
    team: str | None = None

    @field_validator("body")
    @classmethod
    def _compiles(cls, v: str) -> str:
        check_template(v)
        return v


class LockoutConfig(_Strict):
    max_failures_per_account: int = Field(default=5, ge=1, le=1000)
    max_failures_per_ip: int = Field(default=20, ge=1, le=100_000)
    window_minutes: float = Field(default=15.0, gt=0, le=1440)
    lock_minutes: float = Field(default=15.0, gt=0, le=1440)


class AgentsConfig(_Strict):
    accounts: list[AgentAccount] = Field(default_factory=list)
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    lockout: LockoutConfig = Field(default_factory=LockoutConfig)
    canned_responses: list[CannedResponseConfig] = Field(default_factory=list)
    # How often an open queue page asks for new tickets.
    poll_seconds: float = Field(default=5.0, ge=0.2, le=300)

    @field_validator("accounts")
    @classmethod
    def _unique_usernames(cls, v: list[AgentAccount]) -> list[AgentAccount]:
        names = [a.username for a in v]
        if len(set(names)) != len(names):
            raise ValueError("agent usernames must be unique")
        return v

    @field_validator("canned_responses")
    @classmethod
    def _unique_names(cls, v: list[CannedResponseConfig]) -> list[CannedResponseConfig]:
        names = [c.name for c in v]
        if len(set(names)) != len(names):
            raise ValueError("canned response names must be unique")
        return v


def check_template(source: str) -> None:
    """Raise ValueError naming the line when a canned response does not compile."""
    try:
        _SYNTAX.parse(source)
    except TemplateSyntaxError as exc:
        raise ValueError(f"template error on line {exc.lineno}: {exc.message}") from None


def agents_cross_checks(
    agents: AgentsConfig, team_ids: set[str]
) -> list[tuple[tuple[Any, ...], str]]:
    """Problems as (key path, message) for config.py's cross checks: unknown teams."""
    issues: list[tuple[tuple[Any, ...], str]] = []
    for i, account in enumerate(agents.accounts):
        for j, team in enumerate(account.teams):
            if team not in team_ids:
                issues.append((("agents", "accounts", i, "teams", j), f"no team {team!r}"))
    for i, canned in enumerate(agents.canned_responses):
        if canned.team is not None and canned.team not in team_ids:
            issues.append((("agents", "canned_responses", i, "team"), f"no team {canned.team!r}"))
    return issues
