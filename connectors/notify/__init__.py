"""Team-channel notifications (Slack, Microsoft Teams) through incoming webhooks: outbound
only, never to customers. Routing rules name these connectors under `notify`."""

from connectors.notify.settings import SlackConfig, TeamsConfig
from connectors.notify.slack import SlackConnector
from connectors.notify.teams import TeamsConnector
from hub.connector import ConnectorType

SLACK_TYPE = ConnectorType(
    name="slack", config_model=SlackConfig, create=SlackConnector, can_receive=False, notifies=True
)
TEAMS_TYPE = ConnectorType(
    name="teams", config_model=TeamsConfig, create=TeamsConnector, can_receive=False, notifies=True
)

__all__ = [
    "SLACK_TYPE",
    "TEAMS_TYPE",
    "SlackConfig",
    "SlackConnector",
    "TeamsConfig",
    "TeamsConnector",
]
