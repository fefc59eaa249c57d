"""Approved message templates (WhatsApp) for greetings and campaigns, as the operator's
YAML names them, and check-config's checks of them against the configured connectors.

The sending side (which customer gets a template, with what parameters) is
hub.proactive.templates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from babel import Locale, UnknownLocaleError
from pydantic import BaseModel, ConfigDict, Field

from hub.connector import ConnectorType

GREETING_PARAMS = ("customer_name", "years", "offer", "signature")
CAMPAIGN_PARAMS = ("customer_name", "signature")  # and "param:<key>" of the campaign's params


class ApprovedTemplate(BaseModel):
    """A template approved in the channel's business manager (WhatsApp Manager)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$")
    # The language code the template was approved in ("en_US", "bn").
    language: str = Field(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    # What fills the body's {{1}}, {{2}}, ... in order.
    params: list[str] = Field(default_factory=list, max_length=10)


# Locale -> template.
LocaleTemplates = dict[str, ApprovedTemplate]


def check_locales(by_locale: Mapping[str, Any]) -> None:
    """Raises ValueError for a key that is not a locale babel knows."""
    for loc in by_locale:
        try:
            Locale.parse(loc)
        except (UnknownLocaleError, ValueError):
            raise ValueError(f"unknown locale {loc!r}") from None


Issue = tuple[tuple[str | int, ...], str]


@dataclass(frozen=True)
class TemplateSection:
    """One `approved_templates` section, with what its templates may use."""

    path: tuple[str | int, ...]
    approved: Mapping[str, Any]
    channel_order: Sequence[str]
    allowed: Sequence[str]  # parameter names
    param_keys: Sequence[str] = ()  # "param:<key>" names too (a campaign's params)


def cross_checks(section: TemplateSection, sender_type: Mapping[str, ConnectorType]) -> list[Issue]:
    """Problems with an `approved_templates` section: each channel must be in
    `channel_order` and sent by a connector that takes templates; parameters known.
    `sender_type`: channel -> the type of the first connector sending to it."""
    issues: list[Issue] = []
    for channel, inner in section.approved.items():
        where = (*section.path, channel)
        issues += _channel_issues(where, channel, section.channel_order, sender_type.get(channel))
        for at, tpl in _leaves(where, inner):
            issues += _param_issues(at, tpl, section)
    return issues


def _channel_issues(
    where: tuple[str | int, ...],
    channel: str,
    channel_order: Sequence[str],
    ctype: ConnectorType | None,
) -> list[Issue]:
    issues: list[Issue] = []
    if channel not in channel_order:
        issues.append((where, f"{channel!r} is not in channel_order"))
    if ctype is None:
        issues.append((where, f"no connector sends {channel}"))
    elif ctype.reply_window is None:
        issues.append(
            (where, f"{channel} has no reply window: it takes free text, no template needed")
        )
    elif ctype.reply_window.template_for is None:
        issues.append((where, f"{channel} has no message templates"))
    return issues


def _leaves(
    where: tuple[str | int, ...], inner: Mapping[str, Any]
) -> list[tuple[tuple[str | int, ...], ApprovedTemplate]]:
    # Greetings nest occasion -> locale -> template; campaigns locale -> template.
    leaves: list[tuple[tuple[str | int, ...], ApprovedTemplate]] = []
    for key, val in inner.items():
        if isinstance(val, ApprovedTemplate):
            leaves.append(((*where, key), val))
        else:
            leaves += [((*where, key, loc), t) for loc, t in val.items()]
    return leaves


def _param_issues(
    at: tuple[str | int, ...], tpl: ApprovedTemplate, section: TemplateSection
) -> list[Issue]:
    issues: list[Issue] = []
    for i, p in enumerate(tpl.params):
        if p in section.allowed:
            continue
        if p.startswith("param:") and p.removeprefix("param:") in section.param_keys:
            continue
        known = ", ".join([*section.allowed, *(f"param:{k}" for k in section.param_keys)])
        issues.append(((*at, "params", i), f"unknown parameter {p!r} (known: {known})"))
    return issues
