"""The `campaigns:` section of the operator's YAML: who gets which message, on which local day."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from hub.config.channels import ChannelName, ChannelOrder
from hub.config.templates import LocaleTemplates, check_locales

# The outbox kind is "campaign:<name>" in a 32-character column.
CAMPAIGN_NAME = r"^[a-z0-9][a-z0-9_-]{0,22}$"


class SegmentConfig(BaseModel):
    """Every given filter must hold; none given: every customer."""

    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(default_factory=list)  # all of them
    # "bn" matches bn and bn_BD; "bn_BD" only bn_BD.
    locale: str | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")  # address["country"]
    # At least one purchase meeting every purchase filter given (dates are UTC days):
    purchased_after: date | None = None  # on or after
    purchased_before: date | None = None  # strictly before
    purchase_above: Decimal | None = Field(default=None, ge=0)  # amount strictly above
    # True: has a ticket that is not solved or closed; False: has none.
    open_ticket: bool | None = None

    @field_validator("country")
    @classmethod
    def _upper(cls, v: str | None) -> str | None:
        return v.upper() if v else v

    @property
    def has_purchase_filter(self) -> bool:
        return (
            self.purchased_after is not None
            or self.purchased_before is not None
            or self.purchase_above is not None
        )


class CampaignConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=CAMPAIGN_NAME)
    segment: SegmentConfig = Field(default_factory=SegmentConfig)
    # templates/<locale>/<template>.subject.j2 and .txt.j2
    template: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    # Sent at send_hour on send_date in each customer's own time zone.
    send_date: date
    send_hour: int = Field(default=10, ge=0, le=23)
    channel_order: ChannelOrder = Field(default_factory=lambda: ["email"], min_length=1)
    enabled: bool = True
    # After downtime, still sent within this window; never later (a stale offer is spam).
    catch_up_hours: float = Field(default=12.0, gt=0, le=168)
    # Extra values for the template, e.g. an offer code.
    params: dict[str, str] = Field(default_factory=dict)
    # Outside a channel's reply window (WhatsApp) the approved template named here goes
    # instead of the text (channel -> locale -> template), else the next channel is tried.
    approved_templates: dict[ChannelName, LocaleTemplates] = Field(default_factory=dict)

    @field_validator("approved_templates")
    @classmethod
    def _template_locales(cls, v: dict[str, LocaleTemplates]) -> dict[str, LocaleTemplates]:
        for by_locale in v.values():
            check_locales(by_locale)
        return v


def _unique_names(v: list[CampaignConfig]) -> list[CampaignConfig]:
    names = [c.name for c in v]
    if len(set(names)) != len(names):
        raise ValueError("campaign names must be unique")
    return v


Campaigns = Annotated[list[CampaignConfig], AfterValidator(_unique_names)]
