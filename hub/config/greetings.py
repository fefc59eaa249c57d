"""The `greetings:` section of the operator's YAML: when and how birthday greetings go out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from babel import Locale, UnknownLocaleError
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from hub.config.channels import ChannelName, ChannelOrder
from hub.config.templates import ApprovedTemplate, LocaleTemplates, check_locales

OccasionName = Literal["birthday", "anniversary", "customer_since"]
Feb29Rule = Literal["feb28", "mar1"]


@dataclass(frozen=True)
class GreetingRules:
    """The greetings section as hub.proactive.greetings applies it (pure, no pydantic)."""

    send_hour: int = 9
    feb29: Feb29Rule = "feb28"
    catch_up: timedelta = timedelta(hours=12)
    # Occasion names that are greeted; a customer's other occasions are ignored.
    occasions: frozenset[str] = frozenset({"birthday", "anniversary", "customer_since"})

    def __post_init__(self) -> None:
        if not 0 <= self.send_hour <= 23:
            raise ValueError(f"send_hour must be 0-23, got {self.send_hour}")
        if self.feb29 not in ("feb28", "mar1"):
            raise ValueError(f"feb29 must be 'feb28' or 'mar1', got {self.feb29!r}")
        # A year or more would make one sweep see two years' greetings of the same occasion.
        if not timedelta(0) < self.catch_up < timedelta(days=365):
            raise ValueError(f"catch_up must be positive and under a year, got {self.catch_up}")


class GreetingsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Local time in each customer's own zone.
    send_hour: int = Field(default=9, ge=0, le=23)
    feb29: Feb29Rule = "feb28"
    sweep_minutes: int = Field(default=5, ge=1, le=60)
    # At most a week: after a longer outage a birthday greeting is stale.
    catch_up_hours: float = Field(default=12.0, gt=0, le=168)
    occasions: list[OccasionName] = Field(
        default_factory=lambda: ["birthday", "anniversary", "customer_since"]
    )
    # Channels (as in consents) tried in order; the first with consent and a reachable
    # identity carries the greeting.
    channel_order: ChannelOrder = Field(default_factory=lambda: ["email"], min_length=1)
    # Offer text by locale, shown in the greeting; a locale without one gets no offer.
    offer: dict[str, str] = Field(default_factory=dict)
    # Channels with a reply window (WhatsApp) take free text only within it; outside it the
    # greeting goes as the approved template named here, per channel, occasion and locale
    # (channel -> occasion -> locale -> template), or on the next channel in channel_order.
    approved_templates: dict[ChannelName, dict[OccasionName, LocaleTemplates]] = Field(
        default_factory=dict
    )

    @field_validator("approved_templates")
    @classmethod
    def _template_locales(
        cls, v: dict[str, dict[str, LocaleTemplates]]
    ) -> dict[str, dict[str, LocaleTemplates]]:
        for by_occasion in v.values():
            for by_locale in by_occasion.values():
                check_locales(by_locale)
        return v

    def template_for(self, channel: str, occasion: str) -> dict[str, ApprovedTemplate] | None:
        return self.approved_templates.get(channel, {}).get(occasion)

    @field_validator("catch_up_hours")
    @classmethod
    def _covers_a_sweep(cls, v: float, info: ValidationInfo) -> float:
        # A window shorter than the sweep interval lets a greeting fall between two sweeps.
        sweep = info.data.get("sweep_minutes")
        if sweep is not None and v * 60 < sweep:
            raise ValueError(
                f"must cover at least one sweep interval ({sweep} minutes); "
                "raise catch_up_hours or lower sweep_minutes"
            )
        return v

    @field_validator("occasions")
    @classmethod
    def _unique_occasions(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("each occasion may be listed once")
        return v

    @field_validator("offer")
    @classmethod
    def _offer_locales(cls, v: dict[str, str]) -> dict[str, str]:
        for loc in v:
            try:
                Locale.parse(loc)
            except (UnknownLocaleError, ValueError):
                raise ValueError(f"unknown locale {loc!r} in offer") from None
        return v

    def rules(self) -> GreetingRules:
        return GreetingRules(
            send_hour=self.send_hour,
            feb29=self.feb29,
            catch_up=timedelta(hours=self.catch_up_hours),
            occasions=frozenset(self.occasions),
        )

    def offer_for(self, locale: str) -> str | None:
        """The offer for `locale`, else for its language ('bn' for 'bn_BD'), else none."""
        if locale in self.offer:
            return self.offer[locale]
        return self.offer.get(locale.replace("-", "_").split("_")[0])
