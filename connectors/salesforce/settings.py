"""Settings of the Salesforce CRM connector: a connected app's OAuth refresh token, the
org's instance, the Contact's external id field, and the sync block."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from hub.connector import ConnectorConfig, CrmSync

FIELD_NAME = r"^[A-Za-z][A-Za-z0-9_]{0,79}$"


def _https(v: str) -> str:
    if not v.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ValueError("must be an https:// URL (plain http only to this machine)")
    return v.rstrip("/")


class SalesforceConfig(ConnectorConfig):
    type: Literal["salesforce"] = "salesforce"
    # The org's URL (https://<domain>.my.salesforce.com); a token refresh may name another.
    instance_url: str
    # Where tokens are refreshed: https://login.salesforce.com (test.salesforce.com for a
    # sandbox) or the org's My Domain.
    login_url: str = "https://login.salesforce.com"
    api_version: str = Field(default="v60.0", pattern=r"^v\d{2}\.\d$")
    # The connected app and a refresh token it issued (give them as ${ENV}).
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    refresh_token: SecretStr
    # A Contact field marked External ID (and unique) holding the hub's customer id:
    # creates are upserts on it, so a repeated push makes no second Contact.
    external_id_field: str = Field(default="Hub_Customer_Id__c", pattern=FIELD_NAME)
    email_field: str = Field(default="Email", pattern=FIELD_NAME)
    phone_field: str = Field(default="Phone", pattern=FIELD_NAME)
    # Salesforce requires LastName on a Contact: what a customer without a name gets.
    default_last_name: str = Field(default="(unknown)", min_length=1, max_length=80)
    # erasure "archive" sets this checkbox field true (Contacts have no archive of their own).
    archive_field: str = Field(default="Hub_Archived__c", pattern=FIELD_NAME)
    # Stop calling once the org's daily API use (the Sforce-Limit-Info header) reaches this
    # share, leaving the rest to the org's other integrations; resume after limit_wait.
    max_api_share: float = Field(default=0.8, gt=0, le=1)
    limit_wait_seconds: float = Field(default=900.0, gt=0, le=86400)
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    sync: CrmSync

    _urls = field_validator("instance_url", "login_url")(_https)
