"""The operator's YAML, validated: every error names the file, the line and the key path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers
from babel import Locale, UnknownLocaleError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from hub.config.agents import AgentsConfig
from hub.config.alerts import AlertsConfig
from hub.config.assignment import Team
from hub.config.calendars import CONFIG_DIR, Calendars
from hub.config.campaigns import Campaigns
from hub.config.cross_checks import cross_check
from hub.config.duplicates import DuplicatesConfig
from hub.config.greetings import GreetingsConfig
from hub.config.notify import NotificationsConfig
from hub.config.privacy import PrivacyConfig
from hub.config.queues import IngestConfig, OutboxConfig
from hub.config.reports import ReportsConfig
from hub.config.routing import RoutingConfig
from hub.config.sla import SlaConfig
from hub.config.surveys import SurveysConfig
from hub.config.webhooks import WebhooksConfig
from hub.config.yaml_source import Path_, SourceError, YamlSource, YamlSourceError, load_yaml
from hub.connector import ConnectorConfig, ConnectorRegistry
from hub.core.proxies import parse_networks
from hub.core.zones import known_zone


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HubSettings(_Strict):
    default_locale: str = "en"
    locales: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    timezone: str = "UTC"
    phone_region: str = "US"
    # Signs opt-out links and thread markers, and seals the webhook secrets made through
    # the API. Unset: a random key kept in the database, shared by every hub process on
    # it (then a copy of the database holds the key beside what it seals).
    secret_key: SecretStr | None = None
    # The shipped demo: `hub demo seed` fills its database (make run does it when empty).
    # Never set it on a production config: nothing else may be seeded.
    demo: bool = False

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return known_zone(v)

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, v: str) -> str:
        if v.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {v!r} (an ISO 3166 code such as 'BD')")
        return v.upper()

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, v: str) -> str:
        _check_locale(v)
        return v

    @field_validator("locales")
    @classmethod
    def _known_locales(cls, v: list[str]) -> list[str]:
        for loc in v:
            _check_locale(loc)
        return v


def _check_locale(v: str) -> None:
    try:
        Locale.parse(v)
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"unknown locale {v!r}") from None


class StorageConfig(_Strict):
    url: str = "sqlite+aiosqlite:///data/hub.db"

    @field_validator("url")
    @classmethod
    def _supported(cls, v: str) -> str:
        if not (v.startswith("sqlite+aiosqlite://") or v.startswith("postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return v


class WebConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client, for
    # the per-address limits; empty: the peer is the client (hub.core.proxies).
    trusted_proxies: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        parse_networks(v)  # its ValueError names the bad entry
        return v


class ApiToken(_Strict):
    name: str
    token: SecretStr

    @field_validator("token")
    @classmethod
    def _long_enough(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value()) < 16:
            raise ValueError("API tokens must be at least 16 characters")
        return v


class ApiConfig(_Strict):
    tokens: list[ApiToken] = Field(default_factory=list)


class RepliesConfig(_Strict):
    templates_dir: str = "templates"
    acknowledge_new_tickets: bool = True
    acknowledgement_template: str = "acknowledgement"
    signature: str = "The support team"
    # At most this many acknowledgements to one address per window: two auto-responders
    # answering each other stop here.
    max_auto_replies_per_recipient: int = Field(default=5, ge=1, le=1000)
    auto_reply_window_minutes: float = Field(default=60.0, gt=0)
    # A message older than this (by when it was sent or arrived) gets no acknowledgement:
    # a backlog imported late would answer everyone weeks after the fact.
    acknowledge_max_age_hours: float = Field(default=24.0, gt=0)


class BotConfig(_Strict):
    # The FAQ the chat bot answers from (hub faq ask --faq FILE tries it); none: hand over.
    faq: str | None = "config/faq.yaml"


class Config(_Strict):
    hub: HubSettings = Field(default_factory=HubSettings)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    teams: list[Team] = Field(min_length=1)
    routing: RoutingConfig
    replies: RepliesConfig = Field(default_factory=RepliesConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    agents: AgentsConfig = Field(default_factory=AgentsConfig)
    greetings: GreetingsConfig = Field(default_factory=GreetingsConfig)
    campaigns: Campaigns = Field(default_factory=list)
    bot: BotConfig = Field(default_factory=BotConfig)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    surveys: SurveysConfig = Field(default_factory=SurveysConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    # Business-hours calendars by name (#14), for SLA targets counted in business time.
    calendars: Calendars = Field(default_factory=dict)
    # Service-level policies (#14); none: no ticket has a clock.
    sla: SlaConfig = Field(default_factory=SlaConfig)
    duplicates: DuplicatesConfig = Field(default_factory=DuplicatesConfig)
    webhooks: WebhooksConfig = Field(default_factory=list)  # signed events out: hub.webhooks
    # Validated per type after the rest; holds ConnectorConfig subclasses once loaded.
    connectors: list[Any] = Field(default_factory=list)

    @property
    def report_zone(self) -> str:
        """The IANA zone of the reporting day: reports.timezone, else hub.timezone."""
        return self.reports.timezone or self.hub.timezone

    def connector(self, connector_id: str) -> ConnectorConfig:
        for c in self.connectors:
            if c.id == connector_id:
                return c  # type: ignore[no-any-return]
        raise KeyError(connector_id)


@dataclass(frozen=True)
class ConfigIssue:
    filename: str
    line: int
    path: Path_
    message: str

    def __str__(self) -> str:
        where = format_path(self.path) or "(top level)"
        return f"{self.filename}:{self.line}: {where}: {self.message}"


class ConfigError(Exception):
    def __init__(self, issues: list[ConfigIssue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_config(
    path: str | Path, registry: ConnectorRegistry, env: dict[str, str] | None = None
) -> Config:
    filename = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigIssue(filename, 0, (), f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = (
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8"
        )
        raise ConfigError([ConfigIssue(filename, line, (), message)]) from None
    return parse_config(text, filename, registry, env)


def parse_config(
    text: str, filename: str, registry: ConnectorRegistry, env: dict[str, str] | None = None
) -> Config:
    try:
        source = load_yaml(text, filename, env)
    except YamlSourceError as exc:
        raise ConfigError([_issue(filename, e) for e in exc.errors]) from None
    if not isinstance(source.data, dict):
        raise ConfigError([ConfigIssue(filename, 1, (), "the file must hold a mapping of keys")])

    issues: list[ConfigIssue] = []
    try:
        config = Config.model_validate(source.data, context=_context(filename))
        broken: set[str] = set()
    except ValidationError as exc:
        issues.extend(_pydantic_issues(source, exc, ()))
        config, broken = _valid_sections(source.data, _context(filename))

    schema_issues = len(issues)
    config.connectors = _validate_connectors(source, registry, issues)
    if len(issues) > schema_issues:
        broken.add("connectors")
    found = cross_check(config, registry, broken)
    issues.extend(_at(source, path, message) for path, message in found)
    if issues:
        raise ConfigError(issues)
    return config


def _context(filename: str) -> dict[str, Any]:
    # Files a section names (a calendar's iCalendar file) are relative to this one.
    return {CONFIG_DIR: Path(filename).resolve().parent}


def _valid_sections(data: dict[str, Any], context: dict[str, Any]) -> tuple[Config, set[str]]:
    """A Config of the sections that are valid on their own (the others at their defaults),
    and the names of the invalid or missing ones: the cross checks that read only valid
    sections still run beside the schema errors."""
    config = Config.model_construct()
    broken = {name for name, field in Config.model_fields.items() if field.is_required()}
    for name, value in data.items():
        if name not in Config.model_fields or name == "connectors":
            continue
        try:
            Config.__pydantic_validator__.validate_assignment(config, name, value, context=context)
            broken.discard(name)
        except ValidationError:
            broken.add(name)
    return config, broken


def _validate_connectors(
    source: YamlSource, registry: ConnectorRegistry, issues: list[ConfigIssue]
) -> list[ConnectorConfig]:
    raw = source.data.get("connectors") or []
    if not isinstance(raw, list):
        return []
    out: list[ConnectorConfig] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        where: Path_ = ("connectors", i)
        if not isinstance(entry, dict):
            issues.append(_at(source, where, "each connector is a mapping with id and type"))
            continue
        ctype = registry.get(str(entry.get("type")))
        if ctype is None:
            known = ", ".join(registry.names())
            msg = f"unknown connector type {entry.get('type')!r} (known: {known})"
            issues.append(_at(source, (*where, "type"), msg))
            continue
        try:
            cfg = ctype.config_model.model_validate(entry)
        except ValidationError as exc:
            issues.extend(_pydantic_issues(source, exc, where))
            continue
        if cfg.id in seen:
            issues.append(_at(source, (*where, "id"), f"duplicate connector id {cfg.id!r}"))
        seen.add(cfg.id)
        out.append(cfg)
    return out


def _pydantic_issues(source: YamlSource, exc: ValidationError, prefix: Path_) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors():
        loc: Path_ = (*prefix, *(p for p in err["loc"] if isinstance(p, str | int)))
        if err["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
        elif err["type"] == "missing":
            message = "required key is missing"
        else:
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] not in ("value_error",) and "input" in err:
                shown = repr(err["input"])
                if len(shown) < 60 and "token" not in str(loc) and "password" not in str(loc):
                    message += f" (got {shown})"
        issues.append(_at(source, loc, message))
    return issues


def _at(source: YamlSource, path: Path_, message: str) -> ConfigIssue:
    return ConfigIssue(source.filename, source.line_for(path), path, message)


def _issue(filename: str, e: SourceError) -> ConfigIssue:
    return ConfigIssue(filename, e.line, e.path, e.message)
