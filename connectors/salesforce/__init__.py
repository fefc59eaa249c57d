"""Salesforce (REST API): Contacts upserted by an external id field in collections of 200,
pulled by SOQL on SystemModstamp. A CRM, not a channel: hub.crm runs its sync."""

from typing import Any, NoReturn

from connectors.salesforce.client import SalesforceCrm
from connectors.salesforce.settings import SalesforceConfig
from hub.connector import ConnectorType, HubContext


def _not_a_channel(config: Any, ctx: HubContext) -> NoReturn:
    raise TypeError("salesforce is a CRM: hub.crm syncs it, it is not started as a channel")


SALESFORCE = ConnectorType(
    name="salesforce",
    config_model=SalesforceConfig,
    create=_not_a_channel,
    can_send=False,
    can_receive=False,
    crm=SalesforceCrm,
)

CONNECTOR_TYPES = (SALESFORCE,)

__all__ = ["CONNECTOR_TYPES", "SALESFORCE", "SalesforceConfig", "SalesforceCrm"]
