"""Team-channel notifications (Slack, Microsoft Teams) through incoming webhooks: outbound
only, never to customers. Routing rules name these connectors under `notify`."""

from connectors.notify.settings import SlackConfig, TeamsConfig
from connectors.notify.slack import SlackConnector
from connectors.notify.teams import TeamsConnector
from hub.connector import ConnectorType

SLACK = ConnectorType(
    name="slack", config_model=SlackConfig, create=SlackConnector, can_receive=False, notifies=True
)
TEAMS = ConnectorType(
    name="teams", config_model=TeamsConfig, create=TeamsConnector, can_receive=False, notifies=True
)

CONNECTOR_TYPES = (SLACK, TEAMS)

__all__ = [
    "CONNECTOR_TYPES",
    "SLACK",
    "TEAMS",
    "SlackConfig",
    "SlackConnector",
    "TeamsConfig",
    "TeamsConnector",
]
