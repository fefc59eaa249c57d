"""The `surveys:` section of the operator's YAML: CSAT surveys after a ticket is solved."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.config.templates import LocaleTemplates, check_locales

DELAYS = {"0": timedelta(0), "1h": timedelta(hours=1), "24h": timedelta(hours=24)}


class SurveysConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    # How long after the solve the survey goes out.
    delay: Literal["0", "1h", "24h"] = "0"
    # A customer is asked at most once in this many days (0: after every solve cycle).
    per_customer_days: int = Field(default=7, ge=0, le=365)
    # The customer may give or change the rating for this long after it was sent.
    change_window_days: int = Field(default=14, ge=1, le=90)
    # The template names (templates/<locale>/<name>.txt.j2, .subject.j2), per language
    # with the replies' locale fallback.
    template: str = Field(default="csat_survey", pattern=r"^[a-z0-9_]{1,60}$")
    # WhatsApp outside its 24-hour window: an approved template per locale that carries the
    # survey link as its one body parameter; without one the survey is skipped with a note.
    whatsapp_templates: LocaleTemplates = Field(default_factory=dict)
    # Requests per minute one client (IP) may make to the survey page (a burst of 20).
    page_requests_per_minute: float = Field(default=30.0, gt=0, le=10000)

    @field_validator("delay", mode="before")
    @classmethod
    def _zero(cls, v: object) -> object:
        # YAML reads `delay: 0` as a number.
        return "0" if v == 0 else v

    @field_validator("whatsapp_templates")
    @classmethod
    def _locales(cls, v: LocaleTemplates) -> LocaleTemplates:
        check_locales(v)
        return v

    @property
    def delay_time(self) -> timedelta:
        return DELAYS[self.delay]
