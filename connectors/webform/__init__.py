"""The web contact form: an accessible HTML form and the same fields as JSON."""

from connectors.webform.connector import WebFormConnector
from connectors.webform.settings import WebFormConfig
from hub.connector import ConnectorType

WEBFORM = ConnectorType(
    name="webform",
    config_model=WebFormConfig,
    create=WebFormConnector,
    can_send=False,
    channels=("webform",),
)

CONNECTOR_TYPES = (WEBFORM,)

__all__ = ["CONNECTOR_TYPES", "WEBFORM", "WebFormConfig", "WebFormConnector"]
