"""The config of the three Meta connectors: what they share, and each product's own."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hub.connector import ConnectorConfig


class MetaConfig(ConnectorConfig):
    # Signs every webhook post (X-Hub-Signature-256): the app secret of the Meta app.
    app_secret: SecretStr
    # What the operator typed as "Verify token" when subscribing the webhook.
    verify_token: SecretStr
    # A system-user or page access token; Graph error 190 (expired) disables the connector.
    access_token: SecretStr
    # The Graph API: Meta's, or a test fake.
    graph_url: str = "https://graph.facebook.com"
    api_version: str = Field(default="v21.0", pattern=r"^v\d{1,3}\.\d{1,3}$")
    # Larger media are recorded as dropped with the reason, not downloaded.
    max_media_bytes: int = Field(default=25 * 1024 * 1024, ge=0, le=512 * 1024 * 1024)
    # A webhook delivery batches events; a bigger body is refused with 413.
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=16 * 1024, le=64 * 1024 * 1024)
    request_timeout_seconds: float = Field(default=20.0, gt=0, le=300)

    @field_validator("graph_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", v):
            raise ValueError("must be an http(s) URL such as https://graph.facebook.com")
        return v.rstrip("/")

    @field_validator("app_secret", "verify_token", "access_token")
    @classmethod
    def _not_blank(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value().strip()) < 8:
            raise ValueError("must be set (at least 8 characters); use ${ENV_VAR}")
        return v


TemplateParam = Literal["customer_name", "ticket_ref", "text"]


class WhatsAppTemplate(BaseModel):
    """An approved message template, sent when the 24-hour window is closed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$")
    # The template's language code as approved in WhatsApp Manager ("en_US", "bn").
    language: str = Field(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    # What fills the body's {{1}}, {{2}}, ... in order.
    params: list[TemplateParam] = Field(default_factory=list, max_length=10)
    # Fills customer_name for a customer the hub has no name for ("there" in "Hi there"):
    # WhatsApp refuses an empty parameter.
    name_fallback: str | None = Field(default=None, min_length=1, max_length=60)


class WhatsAppConfig(MetaConfig):
    type: Literal["whatsapp"]
    phone_number_id: str = Field(pattern=r"^\d{1,30}$")
    # Locale -> the approved template agents may send outside the window.
    templates: dict[str, WhatsAppTemplate] = Field(default_factory=dict)

    def template_for(self, locale: str) -> str | None:
        """The template for a customer's locale ("bn_BD" falls back to "bn"), else None."""
        for key in (locale, locale.split("_")[0]):
            if key in self.templates:
                return key
        return None


class MessengerConfig(MetaConfig):
    type: Literal["messenger"]
    # The Facebook Page the conversations belong to.
    page_id: str = Field(pattern=r"^\d{1,30}$")


class InstagramConfig(MetaConfig):
    type: Literal["instagram"]
    # The Instagram professional account (IG id) the conversations belong to.
    account_id: str = Field(pattern=r"^\d{1,30}$")
