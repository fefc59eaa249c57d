"""HubSpot CRM (v3 objects API): contacts pushed in batches and pulled by modified time.
A CRM, not a channel: hub.crm runs its sync; it receives and sends no messages."""

from typing import Any, NoReturn

from connectors.hubspot.client import HubSpotCrm
from connectors.hubspot.settings import HubSpotConfig
from hub.connector import ConnectorType, HubContext


def _not_a_channel(config: Any, ctx: HubContext) -> NoReturn:
    raise TypeError("hubspot is a CRM: hub.crm syncs it, it is not started as a channel")


HUBSPOT = ConnectorType(
    name="hubspot",
    config_model=HubSpotConfig,
    create=_not_a_channel,
    can_send=False,
    can_receive=False,
    crm=HubSpotCrm,
)

CONNECTOR_TYPES = (HUBSPOT,)

__all__ = ["CONNECTOR_TYPES", "HUBSPOT", "HubSpotConfig", "HubSpotCrm"]
