"""Settings of the HubSpot CRM connector: a private app's token and the sync block."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from hub.connector import ConnectorConfig, CrmSync


class HubSpotConfig(ConnectorConfig):
    type: Literal["hubspot"] = "hubspot"
    # A private app's access token (scopes crm.objects.contacts.read and .write); give it
    # as ${ENV}. Sent as a bearer token, never logged.
    token: SecretStr
    base_url: str = "https://api.hubapi.com"
    # A unique contact property holding the hub's customer id: creates are upserts on it,
    # so a push repeated after a crash makes no second contact; pulls read it to match.
    hub_id_property: str = Field(default="hub_customer_id", pattern=r"^[a-z][a-z0-9_]{0,99}$")
    email_property: str = "email"
    phone_property: str = "phone"
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # A 429 asking for a wait up to this long is waited out in the client; longer ones
    # (the daily limit) end the round and the sync retries later.
    max_wait_seconds: float = Field(default=15.0, ge=0, le=300)
    sync: CrmSync

    @field_validator("base_url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("must be an https:// URL (plain http only to this machine)")
        return v.rstrip("/")
